import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The real thing for integration tests: the built `orderd` binary behind a real nginx rendered from the
/// shipped `nginx/` config by `scripts/render-nginx.sh`, on a temporary directory and a free port.
final class Stack: @unchecked Sendable {
    /// How orderd gets its listening socket.
    enum Launch {
        /// orderd creates `server.listen` itself.
        case direct
        /// spawn-fcgi creates the socket and hands it over as fd 0 (`-n`: no fork, it execs orderd).
        case spawnFCGI
        /// systemd-socket-activate holds the socket and passes it as fd 3 with `$LISTEN_FDS`/`$LISTEN_PID`.
        case socketActivation
        /// scripts/socket-holder.py holds the socket, passes it like systemd, and restarts orderd on SIGUSR2
        /// (`orderd` is then the holder's process).
        case holder
    }

    static var repo: String {
        if let repo = ProcessInfo.processInfo.environment["ORDERD_REPO"] { return repo }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }

    static var binary: String {
        if let binary = ProcessInfo.processInfo.environment["ORDERD_BIN"] { return binary }
        return repo + "/.build/debug/orderd"
    }

    let dir: String
    let port: Int
    let launch: Launch
    var socketPath: String { dir + "/orderd.sock" }
    var databasePath: String { dir + "/orderd.db" }
    var configPath: String { dir + "/orderd.ini" }
    var orderdLogPath: String { dir + "/orderd.log" }
    var auditPath: String { dir + "/audit.log" }
    /// `task.webhook.secret_file` when a test sets a webhook URL and no secret (`TestGateway.webhookSecret`).
    var webhookSecretPath: String { dir + "/webhook.secret" }
    var keysPath: String { dir + "/api-keys" }
    private(set) var orderd: Process?
    private var nginx: Process?
    private var settings: [String: [String: String]]

    /// The nginx limit on POST /orders per client address every stack renders unless a test asks for another:
    /// suites post far faster than a client may, all from 127.0.0.1. `RateLimitTests` render the 429.
    static let loadTestOrdersLimit = "100000r/s:100000"

    /// `keepalive`: nginx keeps its upstream connections to orderd, as nginx/orderd.conf ships it; false renders
    /// it without (`scripts/render-nginx.sh --keepalive off`).
    init(
        settings: [String: [String: String]] = [:], keepalive: Bool = true, launch: Launch = .direct,
        ordersLimit: String = Stack.loadTestOrdersLimit
    ) throws {
        var template = Array("/tmp/orderd-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw RawHTTP.Failure(description: "mkdtemp failed") }
        dir = String(cString: made)
        port = try Stack.freePort()
        self.launch = launch
        self.settings = settings
        try writeKeys(TestKeys.fileText)
        try writeConfig()
        try renderNginx(keepalive: keepalive, ordersLimit: ordersLimit)
    }

    /// Replaces the keys file (mode 0600, as orderd requires); a SIGHUP makes a running orderd read it.
    func writeKeys(_ text: String, mode: mode_t = 0o600) throws {
        try text.write(toFile: keysPath, atomically: true, encoding: .utf8)
        chmod(keysPath, mode)
    }

    /// Starts orderd and nginx and waits until `/healthz` answers through nginx.
    func start(extraEnvironment: [String: String] = [:]) throws {
        try startOrderd(extraEnvironment: extraEnvironment)
        try startNginx()
        try waitForHealth()
    }

    /// Writes the INI file again with `settings` merged over the ones it was made with (for reload tests).
    func rewriteConfig(_ changes: [String: [String: String]]) throws {
        for (section, values) in changes { settings[section, default: [:]].merge(values) { _, new in new } }
        try writeConfig()
    }

    func writeConfig() throws {
        // No SMS limit per recipient unless a test sets one: the suites send many orders to one number.
        var sections: [String: [String: String]] = [
            "server": ["listen": socketPath, "request_workers": "4", "request_timeout": "5s"],
            "store": ["path": databasePath],
            // Request lines on: several suites read them (off by default, nginx's access log has them).
            "log": ["level": "info", "requests": "on"],
            "task.audit": ["path": auditPath],
            "task.sms": ["per_recipient": "off"],
            // The per-key order limit is off: suites post thousands of orders with one key. The rate-limit tests
            // turn it on.
            "auth": ["keys_file": keysPath, "orders_per_minute": "0"],
        ]
        for (section, values) in settings { sections[section, default: [:]].merge(values) { _, new in new } }
        // A webhook needs its secret (orderd refuses a url without one): the one every TestGateway checks.
        if let webhook = sections["task.webhook"], !(webhook["url"] ?? "").isEmpty, webhook["secret_file"] == nil {
            try (TestGateway.webhookSecret + "\n").write(toFile: webhookSecretPath, atomically: true, encoding: .utf8)
            chmod(webhookSecretPath, 0o600)
            sections["task.webhook"]?["secret_file"] = webhookSecretPath
        }
        var text = "; written by the integration test harness\n"
        for section in sections.keys.sorted() {
            text += "[\(section)]\n"
            for key in sections[section]!.keys.sorted() { text += "\(key) = \(sections[section]![key]!)\n" }
        }
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    private func renderNginx(keepalive: Bool, ordersLimit: String) throws {
        let result = try Stack.run(
            "/bin/bash",
            [Stack.repo + "/scripts/render-nginx.sh", "--run-dir", dir, "--socket", socketPath, "--port", "\(port)",
             "--keepalive", keepalive ? "on" : "off", "--orders-limit", ordersLimit]
        )
        guard result.status == 0 else { throw RawHTTP.Failure(description: "render-nginx failed: \(result.output)") }
    }

    func startOrderd(extraEnvironment: [String: String] = [:]) throws {
        let process = Process()
        switch launch {
        case .direct:
            process.executableURL = URL(fileURLWithPath: Stack.binary)
            process.arguments = ["serve", "--config", configPath]
        case .spawnFCGI:
            process.executableURL = URL(fileURLWithPath: "/usr/bin/spawn-fcgi")
            process.arguments = ["-s", socketPath, "-M", "0660", "-n", "--", Stack.binary, "serve", "--config", configPath]
        case .socketActivation:
            process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-socket-activate")
            process.arguments = ["-l", socketPath, Stack.binary, "serve", "--config", configPath]
        case .holder:
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", Stack.repo + "/scripts/socket-holder.py", "--socket", socketPath, "--",
                                 Stack.binary, "serve", "--config", configPath]
        }
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "LISTEN_FDS")
        environment.removeValue(forKey: "LISTEN_PID")
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        environment.merge(extraEnvironment) { _, new in new }
        process.environment = environment
        // Made once and appended to (a restart keeps the earlier lines, and the file's inode, which
        // JournalLogTests names in $JOURNAL_STREAM).
        if !FileManager.default.fileExists(atPath: orderdLogPath) {
            _ = FileManager.default.createFile(atPath: orderdLogPath, contents: nil)
        }
        let log = FileHandle(forWritingAtPath: orderdLogPath)!
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        orderd = process
        let deadline = ContinuousClock.now + .seconds(30)
        if let listen = settings["server"]?["listen"], !listen.hasPrefix("/") {
            // A TCP listen: no socket file to wait for, and connecting would be a request of its own (or a refusal,
            // with server.allow_from); wait for the line orderd logs once its request threads run.
            while !orderdLog.contains("msg=\"orderd serving\"") {
                guard process.isRunning else {
                    throw RawHTTP.Failure(description: "orderd exited with \(process.terminationStatus):\n\(orderdLog)")
                }
                guard ContinuousClock.now < deadline else { throw RawHTTP.Failure(description: "not serving after 30 s:\n\(orderdLog)") }
                usleep(20_000)
            }
            return
        }
        while !FileManager.default.fileExists(atPath: socketPath) {
            guard process.isRunning else {
                throw RawHTTP.Failure(description: "orderd exited with \(process.terminationStatus):\n\(orderdLog)")
            }
            guard ContinuousClock.now < deadline else { throw RawHTTP.Failure(description: "no socket after 30 s:\n\(orderdLog)") }
            usleep(20_000)
        }
    }

    private func startNginx() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Stack.nginxBinary)
        process.arguments = ["-p", dir + "/nginx", "-c", dir + "/nginx/nginx.conf", "-e", dir + "/nginx/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        nginx = process
    }

    static var nginxBinary: String {
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx"
    }

    func waitForHealth(timeout: Duration = .seconds(30)) throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            if let response = try? RawHTTP.request("GET", "/healthz", port: port), response.status == 200 { return }
            last = (try? RawHTTP.request("GET", "/healthz", port: port)).map { "\($0.status) \($0.bodyText)" } ?? "no answer"
            usleep(50_000)
        }
        throw RawHTTP.Failure(description: "orderd not healthy through nginx (\(last)):\n\(orderdLog)")
    }

    var orderdLog: String { (try? String(contentsOfFile: orderdLogPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` to orderd and waits for it to exit; returns its exit status.
    @discardableResult
    func stopOrderd(signal: Int32 = SIGTERM, timeout: Duration = .seconds(30)) -> Int32? {
        guard let process = orderd else { return nil }
        kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        orderd = nil
        return process.terminationStatus
    }

    func shutdown() {
        // The holder forwards SIGTERM to orderd; killing it would leave orderd behind.
        stopOrderd(signal: launch == .holder ? SIGTERM : SIGKILL, timeout: .seconds(15))
        if let nginx, nginx.isRunning {
            kill(nginx.processIdentifier, SIGQUIT)
            let deadline = ContinuousClock.now + .seconds(5)
            while nginx.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            if nginx.isRunning { kill(nginx.processIdentifier, SIGKILL) }
        }
        if ProcessInfo.processInfo.environment["ORDERD_KEEP_TEST_DIRS"] == nil {
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw RawHTTP.Failure(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs a command to completion and returns its status and combined output (`runCommand`).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        try runCommand(executable, arguments, environment: environment)
    }
}

/// Starts a stack, runs `body` with it, and always tears it down.
func withRunningStack<T>(
    settings: [String: [String: String]] = [:], keepalive: Bool = true, launch: Stack.Launch = .direct,
    ordersLimit: String = Stack.loadTestOrdersLimit, _ body: (Stack) throws -> T
) throws -> T {
    let stack = try Stack(settings: settings, keepalive: keepalive, launch: launch, ordersLimit: ordersLimit)
    defer { stack.shutdown() }
    try stack.start()
    return try body(stack)
}
