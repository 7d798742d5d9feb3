import Foundation
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real HTTP server on loopback standing in for the SMS gateway and webhook receivers: `scripts/test-gateway.py`,
/// started on a free port, told how to behave (`setMode`) and asked what it received (`received`, `stats`).
/// Every delivery is also appended to `recordPath` as it arrives, readable with `recorded()` even after `stop()`.
/// "Connection refused" is not a mode: `stop()` the gateway (or use a port nothing listens on).
final class TestGateway: @unchecked Sendable {
    /// How the gateway answers deliveries (a POST to any path not starting with `/_`).
    enum Mode: String, Sendable {
        /// 200 `{"status":"sent"}`, after the delay when there is one (ok with a delay is "slow").
        case ok
        /// The configured status (503 by default) with a JSON body, after the delay when there is one.
        case fail
        /// No answer: the connection stays open until the client gives up or the gateway stops.
        case hang
        /// The connection is closed without any response.
        case close
        /// Every `failEvery`-th delivery since the mode was set fails, the others are ok.
        case flaky
    }

    /// One delivery as the gateway recorded it on arrival.
    struct Delivery: Decodable, Sendable {
        let seq: Int
        let path: String
        let idempotencyKey: String?
        /// The body parsed as JSON, or `.string(raw text)` when it was not JSON.
        let body: JSONValue
        let receivedAt: Double
        /// The status the gateway decided to answer with on arrival; nil for hang and close.
        let answered: Int?
        /// On a path that requires a header (`requireHeader`): "ok", "missing" or "wrong"; nil elsewhere.
        let auth: String?
        /// On a signed path (`/hook` with a webhook secret): "ok", "missing" or "invalid" as
        /// scripts/verify-webhook.py found it; nil elsewhere.
        let signature: String?
        /// On a signed path: the `X-Orderd-Signature` header and the body exactly as received.
        let signatureHeader: String?
        let rawBody: String?

        /// A string member of a JSON object body.
        subscript(field: String) -> String? {
            if case .string(let value)? = body[field] { return value }
            return nil
        }

        var to: String? { self["to"] }
        var text: String? { self["text"] }
        var orderID: String? { self["order_id"] }

        private enum CodingKeys: String, CodingKey {
            case seq, path, body, answered, auth, signature
            case idempotencyKey = "idempotency_key"
            case receivedAt = "received_at"
            case signatureHeader = "signature_header"
            case rawBody = "raw_body"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            seq = try container.decode(Int.self, forKey: .seq)
            path = try container.decode(String.self, forKey: .path)
            idempotencyKey = try container.decodeIfPresent(String.self, forKey: .idempotencyKey)
            body = try container.decode(AnyJSON.self, forKey: .body).value
            receivedAt = try container.decode(Double.self, forKey: .receivedAt)
            answered = try container.decodeIfPresent(Int.self, forKey: .answered)
            auth = try container.decodeIfPresent(String.self, forKey: .auth)
            signature = try container.decodeIfPresent(String.self, forKey: .signature)
            signatureHeader = try container.decodeIfPresent(String.self, forKey: .signatureHeader)
            rawBody = try container.decodeIfPresent(String.self, forKey: .rawBody)
        }
    }

    struct Stats: Decodable, Sendable {
        let count: Int
        let distinctKeys: Int
        /// Deliveries whose idempotency key had been seen before.
        let duplicates: Int
        let byPath: [String: Int]
        /// By answered status ("200", "503", ...; "none" for hang and close).
        let byStatus: [String: Int]
        /// Deliveries refused 401 for a missing or wrong required header.
        let authFailures: Int
        /// Deliveries to a signed path whose signature was missing or did not verify.
        let signatureFailures: Int

        private enum CodingKeys: String, CodingKey {
            case count, duplicates
            case distinctKeys = "distinct_keys"
            case byPath = "by_path"
            case byStatus = "by_status"
            case authFailures = "auth_failures"
            case signatureFailures = "signature_failures"
        }
    }

    let port: Int
    /// Where the gateway appends one JSON line per delivery.
    let recordPath: String
    let dir: String
    var url: String { "http://127.0.0.1:\(port)/sms" }
    func url(path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    private let process: Process
    private let stdin: Pipe
    private let lock = NSLock()
    private var stopped = false

    private init(process: Process, stdin: Pipe, port: Int, dir: String) {
        self.process = process
        self.stdin = stdin
        self.port = port
        self.dir = dir
        self.recordPath = dir + "/deliveries.jsonl"
    }

    /// The webhook secret of every test: `Stack` writes it to the `task.webhook.secret_file` of a stack with a
    /// webhook URL and no secret of its own, and every gateway checks `/hook` deliveries against it.
    static let webhookSecret = "orderd-integration-test-webhook-secret"

    /// Launches `python3 scripts/test-gateway.py --port 0 --record <tmp>/deliveries.jsonl` and waits (10 s at
    /// most) for its `LISTENING <port>` line. The gateway also exits when this process dies (its stdin closes).
    /// - Parameters:
    ///   - requireHeader: `Name: value` every `/sms` delivery must carry, or it is answered 401.
    ///   - webhookSecret: every `/hook` delivery must carry a valid `X-Orderd-Signature` for it, or it is answered
    ///     401 (nil: not checked).
    static func start(
        mode: Mode = .ok, delay: Duration = .zero, requireHeader: String? = nil,
        webhookSecret: String? = TestGateway.webhookSecret
    ) throws -> TestGateway {
        var template = Array("/tmp/orderd-gateway-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw RawHTTP.Failure(description: "mkdtemp failed") }
        let dir = String(cString: made)
        let logPath = dir + "/gateway.log"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", Stack.repo + "/scripts/test-gateway.py", "--port", "0", "--record", dir + "/deliveries.jsonl",
            "--mode", mode.rawValue, "--delay", seconds(delay), "--stop-on-stdin-eof",
        ]
        if let requireHeader { process.arguments! += ["--require-header", requireHeader] }
        if let webhookSecret {
            try (webhookSecret + "\n").write(toFile: dir + "/webhook.secret", atomically: true, encoding: .utf8)
            process.arguments! += ["--webhook-secret-file", dir + "/webhook.secret"]
        }
        let stdout = Pipe()
        let stdin = Pipe()
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardInput = stdin
        try process.run()

        func failure(_ what: String) -> RawHTTP.Failure {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: dir)
            return RawHTTP.Failure(description: "test gateway: \(what)\n\(log)")
        }
        // Read the first line with a deadline: poll the pipe, never block on it.
        let fd = stdout.fileHandleForReading.fileDescriptor
        let deadline = ContinuousClock.now + .seconds(10)
        var line: [UInt8] = []
        while !line.contains(UInt8(ascii: "\n")) {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw failure("no LISTENING line within 10 s (got \(String(decoding: line, as: UTF8.self)))") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            guard poll(&pfd, 1, max(1, milliseconds)) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 256)
            let count = read(fd, &buffer, buffer.count)
            guard count > 0 else { throw failure("exited before listening (status \(process.isRunning ? -1 : process.terminationStatus))") }
            line += buffer[0..<count]
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("LISTENING "), let port = Int(text.dropFirst("LISTENING ".count)) else {
            throw failure("unexpected first line \(text)")
        }
        return TestGateway(process: process, stdin: stdin, port: port, dir: dir)
    }

    deinit {
        stop()
        if ProcessInfo.processInfo.environment["ORDERD_KEEP_TEST_DIRS"] == nil {
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// Sets the whole behaviour (`POST /_mode`); ok with a delay is "slow". The flaky counter starts over.
    func setMode(_ mode: Mode, delay: Duration = .zero, status: Int = 503, failEvery: Int = 2) throws {
        _ = try control("POST", "/_mode?mode=\(mode.rawValue)&delay=\(Self.seconds(delay))&status=\(status)&fail_every=\(failEvery)")
    }

    /// Sets the header `/sms` deliveries must carry (`POST /_auth`); nil turns the check off.
    func requireHeader(_ header: String?) throws {
        let encoded = (header ?? "").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        _ = try control("POST", "/_auth?header=\(encoded)")
    }

    /// Recorded deliveries with `seq > since`, oldest first (`GET /_received`).
    func received(since: Int = 0) throws -> [Delivery] {
        struct Received: Decodable { let deliveries: [Delivery] }
        return try JSONDecoder().decode(Received.self, from: Data(control("GET", "/_received?since=\(since)").body)).deliveries
    }

    /// Polls `received()` until at least `count` deliveries are there; throws on timeout.
    func waitForDeliveries(_ count: Int, since: Int = 0, timeout: Duration = .seconds(10)) throws -> [Delivery] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let deliveries = try received(since: since)
            if deliveries.count >= count { return deliveries }
            guard ContinuousClock.now < deadline else {
                throw RawHTTP.Failure(description: "test gateway: \(deliveries.count) of \(count) deliveries after \(timeout)")
            }
            usleep(20_000)
        }
    }

    /// What the record file holds: every delivery since start (a reset does not clear it), also after `stop()`.
    func recorded() throws -> [Delivery] {
        let text = (try? String(contentsOfFile: recordPath, encoding: .utf8)) ?? ""
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { try decoder.decode(Delivery.self, from: Data($0.utf8)) }
    }

    func stats() throws -> Stats {
        try JSONDecoder().decode(Stats.self, from: Data(control("GET", "/_stats").body))
    }

    /// Forgets the recorded deliveries (`POST /_reset`); seq keeps increasing.
    func reset() throws {
        _ = try control("POST", "/_reset")
    }

    /// SIGTERM, then waits for the exit (SIGKILL after 5 s). Idempotent; deinit calls it too.
    func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(5)
            while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        try? stdin.fileHandleForWriting.close()
    }

    private func control(_ method: String, _ target: String) throws -> RawHTTPResponse {
        let response = try RawHTTP.request(method, target, port: port, key: nil)
        guard response.status == 200 else {
            throw RawHTTP.Failure(description: "test gateway \(method) \(target): \(response.status) \(response.bodyText)")
        }
        return response
    }

    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(Double(seconds) + Double(attoseconds) / 1e18)
    }
}

/// Any JSON value, decoded into OrderdSupport's `JSONValue` (numbers keep an integer's exact text; other numbers
/// go through Double).
private struct AnyJSON: Decodable {
    let value: JSONValue

    init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var values: [JSONValue] = []
            while !array.isAtEnd { values.append(try array.decode(AnyJSON.self).value) }
            value = .array(values)
        } else if let object = try? decoder.container(keyedBy: AnyKey.self) {
            // Foundation's decoder does not keep member order; sorted keys make the value deterministic.
            value = .object(try object.allKeys.sorted { $0.stringValue < $1.stringValue }.map {
                (key: $0.stringValue, value: try object.decode(AnyJSON.self, forKey: $0).value)
            })
        } else {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() {
                value = .null
            } else if let bool = try? single.decode(Bool.self) {
                value = .bool(bool)
            } else if let integer = try? single.decode(Int64.self) {
                value = .number(JSONNumber(integer))
            } else if let double = try? single.decode(Double.self) {
                value = (try? JSONParser.parse(Array(String(double).utf8))) ?? .string(String(double))
            } else {
                value = .string(try single.decode(String.self))
            }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
