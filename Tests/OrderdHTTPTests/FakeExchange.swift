import Foundation
import Logging
import OrderdFastCGI
import OrderdHTTP

/// A FastCGI request without libfcgi or nginx: the params a web server would pass, a body to read, and a record
/// of everything the edge did with it. A struct like `FastCGIExchange`; its streams live in `Wire`, a reference,
/// as libfcgi's live behind the exchange's request pointer (the protocol's calls are not `mutating`).
struct FakeExchange: RequestExchange {
    final class Wire {
        var body: [UInt8]
        var offset = 0
        var written: [UInt8] = []
        var writes = 0
        var bodyReads = 0
        var skipCalls = 0
        var closedAfterResponse = false

        init(body: [UInt8]) { self.body = body }
    }

    let params: [(name: String, value: String)]
    let wire: Wire
    let keepsConnection: Bool
    /// The read deadline the request thread gave: once it has passed, the watchdog has cut the read side (what
    /// `ReadDeadlines` does to a real connection), so no byte arrives and `bodyError` says `.timedOut`.
    let readDeadline: ContinuousClock.Instant
    /// An `FCGX_GetError` code for a body stream that broke (the peer went away mid-body).
    let readFailure: Int32?

    init(
        _ params: [(name: String, value: String)], body: [UInt8] = [], keepsConnection: Bool = true,
        readDeadline: ContinuousClock.Instant = .now.advanced(by: .seconds(60)), readFailure: Int32? = nil
    ) {
        self.params = params
        self.wire = Wire(body: body)
        self.keepsConnection = keepsConnection
        self.readDeadline = readDeadline
        self.readFailure = readFailure
    }

    private var readSideCut: Bool { readDeadline <= .now }

    func param(_ name: String) -> String? { params.first { $0.name == name }?.value }

    func paramCount(_ name: String) -> Int { params.count { $0.name == name } }

    func readBody(maximum: Int) -> [UInt8] {
        wire.bodyReads += 1
        guard !readSideCut, readFailure == nil else { return [] }
        let end = min(wire.body.count, wire.offset + maximum)
        defer { wire.offset = end }
        return Array(wire.body[wire.offset..<end])
    }

    func skipBody(limit: Int) -> Bool {
        wire.skipCalls += 1
        let remaining = wire.body.count - wire.offset
        wire.offset = wire.body.count
        return remaining <= limit && readFailure == nil && !readSideCut
    }

    var bodyError: BodyReadFailure? {
        if readSideCut { return .timedOut }
        return readFailure.map { .failed($0) }
    }

    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        wire.writes += 1
        wire.written += bytes
        return true
    }

    func closeConnectionAfterResponse() { wire.closedAfterResponse = true }

    /// The answer the edge wrote, parsed back from its CGI form (`Status:` line, headers, blank line, body).
    var answer: WrittenAnswer { WrittenAnswer(wire.written) }
}

/// A response as written to the FastCGI stdout stream.
struct WrittenAnswer {
    var status = 0
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []

    init(_ bytes: [UInt8]) {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else { return }
        body = Array(bytes[(end + separator.count)...])
        for line in String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = String(line[line.index(after: colon)...].drop { $0 == " " })
            if name == "Status" { status = Int(value.prefix { $0.isNumber }) ?? 0 } else { headers.append((name, value)) }
        }
    }

    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    func headers(_ name: String) -> [String] { headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value) }

    /// `error.code`, `error.message`, `error.request_id` of a JSON error body.
    var error: (code: String, message: String, requestID: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let error = object["error"] as? [String: Any], let code = error["code"] as? String,
            let message = error["message"] as? String, let requestID = error["request_id"] as? String
        else { return nil }
        return (code, message, requestID)
    }
}

/// A logger that prints nothing: the tests assert answers, not log lines.
let silentLogger = Logger(label: "orderd-http-tests") { _ in SwiftLogNoOpLogHandler() }
