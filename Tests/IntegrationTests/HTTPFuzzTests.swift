import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Generated bad requests through the real nginx to the real orderd (`HTTPFuzzGenerator`), seeded and
/// reproducible: the seed is printed; `ORDERD_FUZZ_SEED=<seed>` replays the run, `ORDERD_FUZZ_ONLY=<index>` one
/// case of it, `ORDERD_FUZZ_HTTP_CASES` sets the count (default 10,000).
///
/// Property per case: the answer is a 4xx (orderd's, or nginx's own for what it refuses before routing: 400,
/// 405 for TRACE, 413, 414, and 494 sent as 400), never a 5xx and never a hang; every answer with a body is the
/// JSON error shape with `request_id` equal to `X-Request-Id`. A request that announced more body than it sent
/// and then half-closed may also be closed without an answer. After the run: orderd is up, a valid order is
/// still created, and nothing was written for a rejected request (orders and idempotency keys counted in the
/// SQLite file before and after).
@Suite(.timeLimit(.minutes(10)))
struct HTTPFuzzTests {
    static let connections = 4
    /// Longest wait for one answer: far above anything nginx or orderd needs for a refusal (orderd's request
    /// timeout is 5 s in the harness), so only a real hang reaches it.
    static let answerTimeout: Duration = .seconds(10)

    @Test func everyGeneratedBadRequestIsRefusedWithA4xx() throws {
        let seed = FuzzSettings.seed()
        let count = FuzzSettings.count("ORDERD_FUZZ_HTTP_CASES", default: 10_000)
        let indices = FuzzSettings.only.map { [$0] } ?? Array(0..<count)
        print("http fuzz: seed \(FuzzSettings.hex(seed)) cases \(indices.count) (replay: ORDERD_FUZZ_SEED=\(FuzzSettings.hex(seed)))")

        try withRunningStack { (stack: Stack) throws in
            // One order with a key, so a reused key with another body (409) has something to conflict with.
            let original = try RawHTTP.json(
                "POST", "/orders", port: stack.port,
                body: #"{"customer":{"phone":"+8613800138000"},"currency":"CNY","items":[{"sku":"SKU-1","quantity":1,"unit_price_cents":100}],"note":"fuzz-original"}"#,
                headers: [("Idempotency-Key", HTTPFuzzGenerator.existingKey)])
            try #require(original.status == 201, "\(original.status) \(original.bodyText)")
            let before = try Self.storedCounts(stack)
            let started = ContinuousClock.now

            let tally = HTTPFuzzRun(seed: seed, indices: indices).run(port: stack.port, connections: Self.connections)
            let elapsed = ContinuousClock.now - started

            print(tally.summary(seed: seed, elapsed: elapsed))
            for failure in tally.failures.prefix(10) { print(failure) }
            #expect(tally.failures.isEmpty, "\(tally.failures.count) of \(indices.count) cases broke the property; first: \(tally.failures.first ?? "")")
            #expect(tally.total == indices.count, "every case ran")
            #expect(tally.statuses.keys.allSatisfy { $0 == "closed" || (400..<500).contains(Int($0) ?? 0) })

            // Still up: health, a valid order, and nothing stored for any rejected request.
            #expect(stack.orderd?.isRunning == true, "orderd is still running")
            #expect(try RawHTTP.request("GET", "/healthz", port: stack.port).status == 200)
            let after = try Self.storedCounts(stack)
            #expect(after == before, "orders / idempotency keys before \(before), after \(after): a rejected request wrote something")
            let valid = try RawHTTP.json(
                "POST", "/orders", port: stack.port,
                body: #"{"customer":{"phone":"+8613800138000"},"currency":"EUR","items":[{"sku":"SKU-2","quantity":3,"unit_price_cents":250}]}"#)
            #expect(valid.status == 201, "\(valid.status) \(valid.bodyText)")
            let location = try #require(valid.header("location"))
            #expect(try RawHTTP.request("GET", location, port: stack.port).status == 200)
            #expect(!stack.orderdLog.contains("status=5"), "orderd answered a 5xx: \(stack.orderdLog.components(separatedBy: "\n").filter { $0.contains("status=5") }.prefix(3))")
        }
    }

    /// The generator is deterministic: the same seed and index give the same bytes (what makes a printed seed
    /// a replay), and different indices differ.
    @Test func sameSeedSameCases() {
        let seed: UInt64 = 0x5EED
        for index in [0, 1, 77, 9_999] {
            #expect(HTTPFuzzGenerator.make(seed: seed, index: index).bytes == HTTPFuzzGenerator.make(seed: seed, index: index).bytes)
        }
        #expect(HTTPFuzzGenerator.make(seed: seed, index: 1).bytes != HTTPFuzzGenerator.make(seed: seed, index: 2).bytes)
        // A few hundred cases already reach every class.
        let kinds = Set((0..<300).map { HTTPFuzzGenerator.make(seed: seed, index: $0).kind })
        #expect(kinds.count == HTTPFuzzClass.allCases.count)
    }

    /// The per-case check refuses what the property forbids: a 2xx, a 5xx, an answer without the error shape.
    @Test func checkRefusesWhatThePropertyForbids() throws {
        let fuzzCase = HTTPFuzzGenerator.make(seed: 1, index: 0)
        let id = String(repeating: "a", count: 32)
        func answer(_ status: Int, _ body: String) throws -> RawHTTPResponse {
            try RawHTTP.parse(Array("HTTP/1.1 \(status) X\r\nContent-Type: application/json\r\nX-Request-Id: \(id)\r\n\r\n\(body)".utf8))
        }
        let shape = #"{"error":{"code":"bad_request","message":"m","request_id":"\#(id)"}}"#
        #expect(HTTPFuzzTally.check(try answer(400, shape), fuzzCase) == nil)
        #expect(HTTPFuzzTally.check(try answer(201, #"{"id":"x"}"#), fuzzCase) != nil)
        #expect(HTTPFuzzTally.check(try answer(502, shape), fuzzCase) != nil)
        #expect(HTTPFuzzTally.check(try answer(400, "<html>"), fuzzCase) != nil)
        #expect(HTTPFuzzTally.check(try answer(400, shape.replacingOccurrences(of: id, with: "b")), fuzzCase) != nil)
    }

    /// `SELECT count(*)` of orders and of stored idempotency keys.
    static func storedCounts(_ stack: Stack) throws -> String {
        let query = try Stack.run(
            "/usr/bin/sqlite3",
            ["-readonly", stack.databasePath, "SELECT count(*) FROM orders; SELECT count(*) FROM orders WHERE idempotency_key IS NOT NULL;"])
        try #require(query.status == 0, "sqlite3 failed: \(query.output)")
        return query.output.split(separator: "\n").joined(separator: " orders, ") + " keys"
    }
}

/// Runs the cases over a few kept-alive connections and tallies the answers.
final class HTTPFuzzRun: Sendable {
    let seed: UInt64
    let indices: [Int]
    private let next = Atomic<Int>(0)
    private let results = Mutex(HTTPFuzzTally())

    init(seed: UInt64, indices: [Int]) {
        self.seed = seed
        self.indices = indices
    }

    func run(port: Int, connections: Int) -> HTTPFuzzTally {
        let done = DispatchGroup()
        for worker in 0..<connections {
            done.enter()
            let thread = Thread { [self] in
                defer { done.leave() }
                work(port: port)
            }
            thread.name = "http-fuzz-\(worker)"
            thread.start()
        }
        done.wait()
        return results.withLock { $0 }
    }

    private func work(port: Int) {
        var local = HTTPFuzzTally()
        var kept: FuzzHTTPConnection?
        while true {
            let position = next.add(1, ordering: .relaxed).oldValue
            guard position < indices.count else { break }
            let fuzzCase = HTTPFuzzGenerator.make(seed: seed, index: indices[position])
            let outcome = send(fuzzCase, port: port, kept: &kept)
            local.record(fuzzCase, outcome, seed: seed)
        }
        results.withLock { $0.merge(local) }
    }

    /// Sends one case: on the kept connection when its framing allows, else on a connection of its own. A kept
    /// connection nginx closed between two requests (keepalive_requests) gets one retry on a fresh one.
    private func send(_ fuzzCase: HTTPFuzzCase, port: Int, kept: inout FuzzHTTPConnection?) -> FuzzHTTPConnection.Outcome {
        for attempt in 0..<2 {
            let reused = fuzzCase.keepAlive && kept != nil && attempt == 0
            let connection: FuzzHTTPConnection
            if fuzzCase.keepAlive, let existing = kept, attempt == 0 {
                connection = existing
            } else {
                guard let fresh = try? FuzzHTTPConnection(port: port, timeout: HTTPFuzzTests.answerTimeout) else {
                    return .failed("cannot connect to nginx")
                }
                connection = fresh
            }
            kept = nil
            connection.send(RawHTTP.authorized(fuzzCase.bytes, key: TestKeys.all))
            if fuzzCase.halfClose { connection.halfClose() }
            let outcome = connection.readResponse(head: fuzzCase.isHead)
            if case .closed(0) = outcome, reused { continue }
            if case .answered(_, let closes) = outcome, !closes, fuzzCase.keepAlive { kept = connection }
            return outcome
        }
        return .failed("unreachable")
    }
}

/// Counts per class and status, and the failures with what replays them.
struct HTTPFuzzTally: Sendable {
    var total = 0
    var perClass: [String: Int] = [:]
    var statuses: [String: Int] = [:]
    var codes: [String: Int] = [:]
    var failures: [String] = []

    mutating func record(_ fuzzCase: HTTPFuzzCase, _ outcome: FuzzHTTPConnection.Outcome, seed: UInt64) {
        total += 1
        perClass[fuzzCase.kind.rawValue, default: 0] += 1
        var problem: String?
        switch outcome {
        case .answered(let response, _):
            statuses[String(response.status), default: 0] += 1
            problem = Self.check(response, fuzzCase)
            if let code = response.errorCode { codes["\(response.status) \(code)", default: 0] += 1 }
        case .closed(let received):
            statuses["closed", default: 0] += 1
            if !fuzzCase.mayCloseWithoutAnswer || received > 0 { problem = "closed without a whole answer (\(received) bytes)" }
        case .timedOut:
            statuses["hang", default: 0] += 1
            problem = "no answer within \(HTTPFuzzTests.answerTimeout)"
        case .failed(let why):
            statuses["error", default: 0] += 1
            problem = why
        }
        guard let problem else { return }
        failures.append(
            "http fuzz FAILED: seed \(FuzzSettings.hex(seed)) case \(fuzzCase.index) class \(fuzzCase.kind.rawValue)/\(fuzzCase.variant): "
                + "\(problem)\n  replay: ORDERD_FUZZ_SEED=\(FuzzSettings.hex(seed)) ORDERD_FUZZ_ONLY=\(fuzzCase.index)\n"
                + "  request (\(fuzzCase.bytes.count) bytes): \(fuzzEscaped(fuzzCase.bytes))")
    }

    static func check(_ response: RawHTTPResponse, _ fuzzCase: HTTPFuzzCase) -> String? {
        let context = "\(response.status) \(response.bodyText.prefix(300))"
        guard (400..<500).contains(response.status) else { return "status \(context)" }
        guard let requestID = response.header("x-request-id"), requestID.count == 32 else { return "no X-Request-Id: \(context)" }
        if fuzzCase.isHead { return nil }
        guard response.header("content-type")?.hasPrefix("application/json") == true else { return "not JSON: \(context)" }
        guard let error = response.json?["error"] as? [String: Any],
            (error["code"] as? String)?.isEmpty == false,
            (error["message"] as? String)?.isEmpty == false,
            error["request_id"] as? String == requestID
        else { return "not the error shape {\"error\":{code,message,request_id}}: \(context)" }
        return nil
    }

    mutating func merge(_ other: HTTPFuzzTally) {
        total += other.total
        perClass.merge(other.perClass, uniquingKeysWith: +)
        statuses.merge(other.statuses, uniquingKeysWith: +)
        codes.merge(other.codes, uniquingKeysWith: +)
        failures += other.failures
    }

    func summary(seed: UInt64, elapsed: Duration) -> String {
        func line(_ counts: [String: Int]) -> String { counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
        return """
            http fuzz summary: seed \(FuzzSettings.hex(seed)), \(total) cases in \(fuzzSeconds(elapsed)) s, \(failures.count) failures
              per class:  \(line(perClass))
              per status: \(line(statuses))
              per code:   \(line(codes))
            """
    }
}

func fuzzSeconds(_ duration: Duration) -> String {
    String(format: "%.1f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
}

/// One client connection to nginx that reads whole HTTP/1.1 answers (Content-Length, chunked, or up to EOF),
/// so several requests can share it.
final class FuzzHTTPConnection {
    enum Outcome: Sendable {
        case answered(RawHTTPResponse, closes: Bool)
        /// The server closed before a whole answer; how many bytes of one it had sent.
        case closed(Int)
        case timedOut
        case failed(String)
    }

    private let fd: Int32
    private var buffer: [UInt8] = []
    private var sawEOF = false
    /// Where the answer being read must be complete: each recv waits at most the socket timeout, and this bounds
    /// the sum (a server dribbling bytes cannot stretch a case forever).
    private var deadline = ContinuousClock.now

    init(port: Int, timeout: Duration) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTP.Failure(description: "socket() failed") }
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // No close here: an initializer that throws once every property is set still runs deinit, which closes
        // fd; closing it here too closed whatever socket another thread had opened under the same number since.
        guard connected == 0 else {
            throw RawHTTP.Failure(description: "connect to port \(port) failed: errno \(errno)")
        }
    }

    deinit { close(fd) }

    /// Sends as much as the server takes; it may answer and close before reading everything (413).
    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    func halfClose() { shutdown(fd, Int32(SHUT_WR)) }

    private enum Fill { case more, eof, timeout }

    private func fill() -> Fill {
        if sawEOF { return .eof }
        if ContinuousClock.now >= deadline { return .timeout }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        if count > 0 {
            buffer += chunk[0..<count]
            return .more
        }
        if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return .timeout }
        sawEOF = true  // 0, or ECONNRESET after nginx's answer-and-close
        return .eof
    }

    /// Reads one final answer (1xx interim answers are skipped) within `timeout`.
    func readResponse(head isHead: Bool, timeout: Duration = HTTPFuzzTests.answerTimeout) -> Outcome {
        deadline = ContinuousClock.now + timeout
        var consumedTotal = 0
        while true {
            var headEnd: Range<Int>?
            while true {
                headEnd = buffer.firstRange(of: Array("\r\n\r\n".utf8))
                if headEnd != nil { break }
                switch fill() {
                case .more: continue
                case .eof: return .closed(consumedTotal + buffer.count)
                case .timeout: return .timedOut
                }
            }
            guard let end = headEnd, var parsed = try? RawHTTP.parse(Array(buffer[..<end.upperBound])) else {
                return .failed("unparsable answer: \(String(decoding: buffer.prefix(200), as: UTF8.self))")
            }
            if (100..<200).contains(parsed.status) {
                consumedTotal += end.upperBound
                buffer.removeFirst(end.upperBound)
                continue
            }
            let headText = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
            var closes = parsed.header("connection")?.lowercased() == "close" || headText.hasPrefix("HTTP/1.0")
            var body: [UInt8] = []
            var rest = end.upperBound
            if isHead || parsed.status == 204 || parsed.status == 304 {
                // no body
            } else if parsed.header("transfer-encoding")?.lowercased() == "chunked" {
                while true {
                    guard let lineEnd = buffer[rest...].firstRange(of: Array("\r\n".utf8)) else {
                        switch fill() {
                        case .more: continue
                        case .eof: return .closed(buffer.count)
                        case .timeout: return .timedOut
                        }
                    }
                    let sizeText = String(decoding: buffer[rest..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
                    guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                        return .failed("bad chunk size '\(sizeText)'")
                    }
                    let needed = lineEnd.upperBound + size + 2
                    while buffer.count < needed {
                        switch fill() {
                        case .more: continue
                        case .eof: return .closed(buffer.count)
                        case .timeout: return .timedOut
                        }
                    }
                    if size == 0 {
                        rest = needed
                        break
                    }
                    body += buffer[lineEnd.upperBound..<(lineEnd.upperBound + size)]
                    rest = needed
                }
            } else if let lengthText = parsed.header("content-length"), let length = Int(lengthText) {
                while buffer.count < rest + length {
                    switch fill() {
                    case .more: continue
                    case .eof: return .closed(buffer.count)
                    case .timeout: return .timedOut
                    }
                }
                body = Array(buffer[rest..<(rest + length)])
                rest += length
            } else {
                while true {
                    switch fill() {
                    case .more: continue
                    case .eof: break
                    case .timeout: return .timedOut
                    }
                    break
                }
                body = Array(buffer[rest...])
                rest = buffer.count
                closes = true
            }
            parsed.body = body
            buffer.removeFirst(rest)
            return .answered(parsed, closes: closes || sawEOF)
        }
    }
}
