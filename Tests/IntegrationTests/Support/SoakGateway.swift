import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// scripts/test-gateway.py on one loopback port that can really go down: `goDown()` stops the process (a
/// connection is then refused), `comeBack()` starts a new one on the same port. Every process appends its
/// deliveries to the same record file, so `recorded()` is the whole run across outages.
final class SoakGateway: @unchecked Sendable {
    private(set) var port: Int = 0
    let dir: String
    var recordPath: String { dir + "/deliveries.jsonl" }
    var logPath: String { dir + "/gateway.log" }
    private var process: Process?
    private var stdin: Pipe?
    private let lock = NSLock()
    /// How many gateway processes were started (the first plus one per comeback).
    private(set) var starts = 0

    init() throws {
        var template = Array("/tmp/orderd-soak-gateway-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw RawHTTP.Failure(description: "mkdtemp failed") }
        dir = String(cString: made)
        try launch(port: 0)
    }

    var isUp: Bool { lock.withLock { process != nil } }

    /// Stops the gateway process (SIGTERM, SIGKILL after 5 s): the port refuses connections until `comeBack()`.
    func goDown() {
        lock.withLock { stopLocked() }
    }

    /// Starts a new gateway process on the same port, ok mode, if none runs. The port is bound with
    /// SO_REUSEADDR; a few tries cover a port still held by the exiting process.
    func comeBack() throws {
        guard !isUp else { return }
        var lastError: (any Error)?
        for _ in 0..<20 {
            do {
                try launch(port: port)
                return
            } catch {
                lastError = error
                usleep(250_000)
            }
        }
        throw lastError ?? RawHTTP.Failure(description: "gateway did not come back on port \(port)")
    }

    /// `POST /_mode` (ok with a delay is "slow").
    func setMode(_ mode: TestGateway.Mode, delay: Duration = .zero, status: Int = 503, failEvery: Int = 2) throws {
        let target = "/_mode?mode=\(mode.rawValue)&delay=\(TestGateway.seconds(delay))&status=\(status)&fail_every=\(failEvery)"
        let response = try RawHTTP.request("POST", target, port: port)
        guard response.status == 200 else { throw RawHTTP.Failure(description: "gateway /_mode: \(response.status) \(response.bodyText)") }
    }

    /// Every delivery every gateway process of this run recorded, in arrival order.
    func recorded() throws -> [TestGateway.Delivery] {
        let text = (try? String(contentsOfFile: recordPath, encoding: .utf8)) ?? ""
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { try decoder.decode(TestGateway.Delivery.self, from: Data($0.utf8)) }
    }

    /// Stops the process and removes the directory (kept with ORDERD_KEEP_TEST_DIRS).
    func shutdown() {
        goDown()
        if ProcessInfo.processInfo.environment["ORDERD_KEEP_TEST_DIRS"] == nil {
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    private func stopLocked() {
        guard let running = process else { return }
        if running.isRunning {
            kill(running.processIdentifier, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(5)
            while running.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            if running.isRunning { kill(running.processIdentifier, SIGKILL) }
        }
        running.waitUntilExit()
        try? stdin?.fileHandleForWriting.close()
        process = nil
        stdin = nil
    }

    private func launch(port wanted: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", Stack.repo + "/scripts/test-gateway.py", "--port", "\(wanted)", "--record", recordPath,
            "--stop-on-stdin-eof",
        ]
        let stdout = Pipe()
        let stdin = Pipe()
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = FileHandle(forWritingAtPath: logPath)
        log?.seekToEndOfFile()
        process.standardOutput = stdout
        process.standardError = log
        process.standardInput = stdin
        try process.run()
        let fd = stdout.fileHandleForReading.fileDescriptor
        let deadline = ContinuousClock.now + .seconds(10)
        var line: [UInt8] = []
        while !line.contains(UInt8(ascii: "\n")) {
            guard ContinuousClock.now < deadline, process.isRunning || !line.isEmpty else { break }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 256)
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            line += buffer[0..<count]
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("LISTENING "), let bound = Int(text.dropFirst("LISTENING ".count)) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? stdin.fileHandleForWriting.close()
            throw RawHTTP.Failure(description: "test gateway on port \(wanted) did not start (\(text))")
        }
        lock.withLock {
            self.process = process
            self.stdin = stdin
            self.port = bound
            starts += 1
        }
    }
}
