import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Keeps `openapi.yaml` true: real requests through the real nginx to the real orderd, every response checked
/// against the spec by `scripts/openapi-check.py` (status, Content-Type, required headers, body schema), and
/// the reverse: every status the spec documents for an operation was produced here, unless the spec marks it
/// `x-conformance: {exercised: false, reason: …}`.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct OpenAPIConformanceTests {
    @Test func realResponsesMatchTheSpecAndTheSpecListsNothingElse() throws {
        let log = RecordedExchangeLog()
        // busy_timeout short so that the 503 below comes quickly.
        try withRunningStack(settings: ["store": ["busy_timeout": "250ms"]]) { stack in
            let client = ConformanceClient(stack: stack, log: log)
            try client.exerciseHealth()
            try client.exerciseOrders()
            try client.exerciseKeys()
            try client.exerciseRefusals()
            try client.exerciseRoutingAndReservedPaths()
            try client.exerciseMalformedHTTP()
            try client.exerciseBusyStore()
            try client.exerciseOrderdDown()  // last: stops orderd
        }
        // orderd's own 413 needs a limit below nginx's 64k.
        try withRunningStack(settings: ["server": ["max_body_bytes": "1k"]]) { stack in
            let client = ConformanceClient(stack: stack, log: log)
            try client.send("orderd's own 413", .order(String(repeating: " ", count: 1_500) + "{}"), expect: 413)
            try client.send("1k limit: exactly 1024 bytes reach the validator", .order(#"{"note":""# + String(repeating: "n", count: 1_024 - 11) + #""}"#), expect: 422, request: .invalid)
        }

        // The rate limits: nginx's per address turned down to one a minute with a burst of one, orderd's per key
        // to one a minute: the first POST passes both, the second passes nginx and meets orderd's, the third
        // meets nginx's.
        try withRunningStack(settings: ["auth": ["orders_per_minute": "1"]], ordersLimit: "1r/m:1") { stack in
            let client = ConformanceClient(stack: stack, log: log)
            try client.send("first order within the limits", .order(TestOrderBody.valid), expect: 201, request: .valid)
            let perKey = try client.send("429 from orderd: the key's orders per minute", .order(TestOrderBody.valid), expect: 429)
            #expect(perKey.bodyText.contains("test-all"))
            let perAddress = try client.send("429 from nginx: the address's rate", .order(TestOrderBody.valid), expect: 429)
            #expect(perAddress.header("retry-after") == "1")
        }

        let report = try OpenAPICheck.run(log.exchanges)
        report.recordIssues()
        #expect(report.checkedExchanges == log.exchanges.count)
    }

    /// The checker must fail on drift, not pass everything: a few wrong responses, each must be reported.
    @Test func checkerReportsDrift() throws {
        let id = "01a21a2e-7c73-72b3-b04e-a3379c39b7b4"
        let rid = "0123456789abcdef0123456789abcdef"
        func created(_ body: String, headers: [String: String]) -> RecordedExchange {
            RecordedExchange(
                name: "drift: \(body.prefix(40))", method: "POST", target: "/orders", requestHeaders: [("Content-Type", "application/json")],
                requestBody: Array(TestOrderBody.valid.utf8), requestExpectation: nil,
                response: RawHTTPResponse(status: 201, headers: headers, body: Array(body.utf8)))
        }
        let nginxHTML400 = "<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        let good = #"{"id":"\#(id)","status":"created","total_cents":2598,"currency":"CNY","created_at":"2026-11-26T23:08:53.123Z"}"#
        let headers = ["content-type": "application/json", "x-request-id": rid, "location": "/orders/\(id)"]
        var withoutLocation = headers
        withoutLocation["location"] = nil
        let drifted: [RecordedExchange] = [
            created(good.replacingOccurrences(of: "}", with: #","extra":1}"#), headers: headers),
            created(good.replacingOccurrences(of: "23:08:53.123Z", with: "23:08:53Z"), headers: headers),
            created(good.replacingOccurrences(of: "\"CNY\"", with: "\"cny\""), headers: headers),
            created(good, headers: withoutLocation),
            created(good, headers: headers.merging(["location": "/orders/01a21a2e-7c73-72b3-b04e-a3379c39b7b5"]) { $1 }),
            created(good, headers: headers.merging(["content-type": "text/plain"]) { $1 }),
            RecordedExchange(
                name: "drift: 422 without details", method: "POST", target: "/orders", requestHeaders: [], requestBody: nil,
                requestExpectation: nil,
                response: RawHTTPResponse(
                    status: 422, headers: ["content-type": "application/json", "x-request-id": rid],
                    body: Array(#"{"error":{"code":"validation_failed","message":"m","request_id":"\#(rid)"}}"#.utf8))),
            RecordedExchange(
                name: "drift: undocumented status", method: "GET", target: "/healthz", requestHeaders: [], requestBody: nil,
                requestExpectation: nil,
                response: RawHTTPResponse(status: 204, headers: ["x-request-id": rid], body: [])),
            RecordedExchange(
                name: "drift: request_id differs from X-Request-Id", method: "GET", target: "/nope", requestHeaders: [],
                requestBody: nil, requestExpectation: nil,
                response: RawHTTPResponse(
                    status: 404, headers: ["content-type": "application/json", "x-request-id": rid],
                    body: Array(#"{"error":{"code":"not_found","message":"m","request_id":"ffffffffffffffffffffffffffffffff"}}"#.utf8))),
            // What nginx answered before its error_page 400 / 413 changed: no longer part of the API.
            RecordedExchange(
                name: "drift: nginx's stock text/html 400", method: "GET", target: "/orders/%00", requestHeaders: [], requestBody: nil,
                requestExpectation: nil, response: RawHTTPResponse(status: 400, headers: ["content-type": "text/html"], body: Array(nginxHTML400.utf8))),
            RecordedExchange(
                name: "drift: nginx's stock text/html 400 before routing", method: "GET", target: "/../x", requestHeaders: [], requestBody: nil,
                requestExpectation: nil, refusedByNginx: true,
                response: RawHTTPResponse(status: 400, headers: ["content-type": "text/html"], body: Array(nginxHTML400.utf8))),
            RecordedExchange(
                name: "drift: 413 body_too_large", method: "POST", target: "/orders", requestHeaders: [], requestBody: nil,
                requestExpectation: nil,
                response: RawHTTPResponse(
                    status: 413, headers: ["content-type": "application/json", "x-request-id": rid],
                    body: Array(#"{"error":{"code":"body_too_large","message":"request body exceeds 64k","request_id":"\#(rid)"}}"#.utf8))),
            RecordedExchange(
                name: "drift: 500 from a named error_page without a URI", method: "GET", target: "/../x", requestHeaders: [], requestBody: nil,
                requestExpectation: nil, refusedByNginx: true,
                response: RawHTTPResponse(status: 500, headers: ["content-type": "text/html"], body: Array("<html>".utf8))),
        ]
        let report = try OpenAPICheck.run(drifted)
        #expect(report.fatal == nil, "\(report.fatal ?? "")")
        for exchange in drifted {
            #expect(report.problems[exchange.name]?.isEmpty == false, "\(exchange.name): the checker found nothing wrong")
        }
        // Nothing above produces most documented statuses: the reverse check must notice.
        #expect(report.missing.count > 10)
    }
}

// MARK: - The requests

/// Sends requests to one stack and records each exchange for the checker.
struct ConformanceClient {
    let stack: Stack
    let log: RecordedExchangeLog

    enum RequestExpectation: String {
        /// The spec's request body and parameters accept what was sent.
        case valid
        /// The spec's request body or parameters refuse what was sent.
        case invalid
    }

    /// Sends `request` (from `source` when given, to bind another loopback address), expects `status`, records it.
    @discardableResult
    func send(
        _ name: String, _ request: WireRequest, from source: String? = nil, expect status: Int, request expectation: RequestExpectation? = nil,
        refusedByNginx: Bool = false, key: String? = TestKeys.all, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> RawHTTPResponse {
        let response = try source.map { try RawHTTP.send(request.bytes, port: stack.port, from: $0, key: key) }
            ?? RawHTTP.send(request.bytes, port: stack.port, key: key)
        #expect(response.status == status, "\(name): \(response.status) \(response.bodyText.prefix(400))", sourceLocation: sourceLocation)
        let (headers, body) = Self.split(request.bytes)
        log.append(
            RecordedExchange(
                name: name, method: request.method, target: request.path, requestHeaders: headers, requestBody: body,
                requestExpectation: expectation?.rawValue, refusedByNginx: refusedByNginx, response: response))
        return response
    }

    /// The header lines and body of a request we built ourselves (the body is everything after the blank line).
    static func split(_ bytes: [UInt8]) -> ([(String, String)], [UInt8]?) {
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return ([], nil) }
        let lines = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n").dropFirst()
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let body = Array(bytes[end.upperBound...])
        return (headers, body.isEmpty ? nil : body)
    }

    func exerciseHealth() throws {
        try send("GET /healthz", WireRequest("GET", "/healthz"), expect: 200)
        try send("GET /healthz with a query string", WireRequest("GET", "/healthz?verbose=1"), expect: 200)
        let head = try send("HEAD /healthz", WireRequest("HEAD", "/healthz"), expect: 200)
        #expect(head.body.isEmpty)
        let ready = try send("GET /readyz", WireRequest("GET", "/readyz"), expect: 200, key: nil)
        #expect(ready.json?["status"] as? String == "ready")
    }

    /// 401 without a usable key, 403 with a key that lacks the operation's scope, on every protected operation.
    func exerciseKeys() throws {
        let id = "/orders/01a21a2e-7c73-72b3-b04e-a3379c39b7b4"
        try send("401 POST without a key", .order(TestOrderBody.valid), expect: 401, key: nil)
        try send("401 POST with an unknown key", .order(TestOrderBody.valid, headers: [TestKeys.bearer("od_live_0")]), expect: 401)
        try send("401 GET an order with a malformed header", WireRequest("GET", id, headers: [("Authorization", "od_live_0")]), expect: 401)
        try send("401 HEAD an order without a key", WireRequest("HEAD", id), expect: 401, key: nil)
        for path in ["/status", "/stats", "/metrics"] {
            let refused = try send("401 \(path) without a key", WireRequest("GET", path), expect: 401, key: nil)
            #expect(refused.header("www-authenticate")?.contains("Basic realm") == true)
        }
        try send("403 POST with a read-only key", .order(TestOrderBody.valid), expect: 403, key: TestKeys.readOnly)
        try send("403 GET an order with a write-only key", WireRequest("GET", id), expect: 403, key: TestKeys.writeOnly)
        try send("403 HEAD an order with an admin key", WireRequest("HEAD", id), expect: 403, key: TestKeys.adminOnly)
        for path in ["/status", "/stats", "/metrics"] {
            try send("403 \(path) with an orders key", WireRequest("GET", path), expect: 403, key: TestKeys.writeOnly)
        }
    }

    func exerciseOrders() throws {
        let full = #"{"customer":{"phone":"+8613800138000","email":"li@example.com"},"currency":"CNY","items":[{"sku":"SKU-1","quantity":2,"unit_price_cents":1299},{"sku":"b.2_x","quantity":1,"unit_price_cents":0}],"note":"ring twice"}"#
        let created = try send("create a full order", .order(full), expect: 201, request: .valid)
        #expect(created.header("idempotent-replayed") == nil)
        let location = try #require(created.header("location"))
        let fetched = try send("GET the full order", WireRequest("GET", location), expect: 200)
        #expect(fetched.json?["note"] as? String == "ring twice")
        #expect((fetched.json?["customer"] as? [String: Any])?["email"] as? String == "li@example.com")
        #expect((fetched.json?["items"] as? [Any])?.count == 2)
        #expect(fetched.json?["total_cents"] as? Int == 2598)
        let head = try send("HEAD the full order", WireRequest("HEAD", location), expect: 200)
        #expect(head.body.isEmpty)

        // Without email and note: both are left out of the GET body (never null).
        let minimal = try send("create a minimal order", .order(TestOrderBody.valid), expect: 201, request: .valid)
        let minimalOrder = try send("GET the minimal order", WireRequest("GET", try #require(minimal.header("location"))), expect: 200)
        #expect(minimalOrder.json?.keys.contains("note") == false)
        #expect((minimalOrder.json?["customer"] as? [String: Any])?.keys.contains("email") == false)

        // Boundaries the spec's request schema must accept, as orderd does.
        try send("largest total: 1000 × 10^12 cents", .order(TestOrderBody.withItem(TestOrderBody.item(quantity: "1000", price: "1000000000000"))), expect: 201, request: .valid)
        try send("100 items, 15-digit phone, email null, note null", .order(TestOrderBody.make(customer: #"{"phone":"+123456789012345","email":null}"#, items: "[" + Array(repeating: TestOrderBody.item, count: 100).joined(separator: ",") + "]", note: "null")), expect: 201, request: .valid)
        try send("note of 500 scalars (1000 bytes), 64-character sku", .order(TestOrderBody.make(items: "[" + TestOrderBody.item(sku: "\"" + String(repeating: "S", count: 64) + "\"") + "]", note: "\"" + String(repeating: "é", count: 500) + "\"")), expect: 201, request: .valid)
        try send("charset=utf-8 is accepted", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json; charset=utf-8")], body: Array(TestOrderBody.valid.utf8)), expect: 201, request: .valid)

        // Idempotency: first, replay, conflict.
        let key = "conformance-\(UInt64.random(in: 0...UInt64.max))"
        let first = try send("create with Idempotency-Key", .order(TestOrderBody.valid, headers: [("Idempotency-Key", key)]), expect: 201, request: .valid)
        #expect(first.header("idempotent-replayed") == nil)
        let replay = try send("replay with the same key and body", .order(TestOrderBody.valid, headers: [("Idempotency-Key", key)]), expect: 201, request: .valid)
        #expect(replay.header("idempotent-replayed") == "true")
        #expect(replay.body == first.body)
        #expect(replay.header("location") == first.header("location"))
        try send("same key, another body", .order(TestOrderBody.make(note: #""other""#), headers: [("Idempotency-Key", key)]), expect: 409)

        // Not found.
        try send("GET an unknown UUIDv7", WireRequest("GET", "/orders/01a21a2e-7c73-72b3-b04e-a3379c39b7b4"), expect: 404)
        try send("GET a malformed id", WireRequest("GET", "/orders/not-an-id"), expect: 404)
        let headMissing = try send("HEAD an unknown UUIDv7", WireRequest("HEAD", "/orders/01a21a2e-7c73-72b3-b04e-a3379c39b7b4"), expect: 404)
        #expect(headMissing.body.isEmpty)
        try send("nginx refuses %00 in the path", WireRequest("GET", "/orders/%00"), expect: 400)
    }

    func exerciseRefusals() throws {
        let valid = Array(TestOrderBody.valid.utf8)
        try send("415 text/plain", WireRequest("POST", "/orders", headers: [("Content-Type", "text/plain")], body: valid), expect: 415)
        try send("415 no Content-Type", WireRequest("POST", "/orders", body: valid), expect: 415)
        try send("411 no Content-Length", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json")]), expect: 411)
        try send("413 from nginx", .order(String(repeating: " ", count: 65_537)), expect: 413)
        try send("400 empty body", .order(""), expect: 400)
        try send("400 Idempotency-Key too long", .order(TestOrderBody.valid, headers: [("Idempotency-Key", String(repeating: "k", count: 256))]), expect: 400, request: .invalid)
        try send("400 invalid JSON", .order(#"{"customer":"#), expect: 400)
        try send("400 duplicate key", .order(#"{"note":"a","note":"b"}"#), expect: 400)
        try send("400 from nginx: two Content-Length headers", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Content-Length", "2"), ("Content-Length", "2")], body: Array("{}".utf8)), expect: 400)
        try send("400 two Idempotency-Key headers", .order(TestOrderBody.valid, headers: [("Idempotency-Key", "conformance-a"), ("Idempotency-Key", "conformance-b")]), expect: 400)
        try send("201 Content-Type application/json; (empty parameter)", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json;")], body: Array(TestOrderBody.valid.utf8)), expect: 201, request: .valid)

        // 422s the spec's request schema refuses too.
        try send("422 empty object", .order("{}"), expect: 422, request: .invalid)
        try send("422 not an object", .order("[]"), expect: 422, request: .invalid)
        try send("422 phone", .order(TestOrderBody.withPhone(#""+0123""#)), expect: 422, request: .invalid)
        try send("422 email", .order(TestOrderBody.withEmail(#""li@example..com""#)), expect: 422, request: .invalid)
        try send("422 lower-case currency", .order(TestOrderBody.make(currency: #""cny""#)), expect: 422, request: .invalid)
        try send("422 no items", .order(TestOrderBody.make(items: "[]")), expect: 422, request: .invalid)
        try send("422 101 items", .order(TestOrderBody.withItems(101)), expect: 422, request: .invalid)
        try send("422 quantity 1001", .order(TestOrderBody.withItem(TestOrderBody.item(quantity: "1001"))), expect: 422, request: .invalid)
        try send("422 sku", .order(TestOrderBody.withItem(TestOrderBody.item(sku: #""a/b""#))), expect: 422, request: .invalid)
        try send("422 note of 501", .order(TestOrderBody.make(note: "\"" + String(repeating: "n", count: 501) + "\"")), expect: 422, request: .invalid)
        try send("422 note with \\u0000", .order(TestOrderBody.make(note: #""a\u0000""#)), expect: 422, request: .invalid)
        try send("422 unknown fields", .order(TestOrderBody.make(customer: #"{"phone":"+8613800138000","fax":"1"}"#, extra: #","coupon":1"#)), expect: 422, request: .invalid)
        // 422s that JSON Schema cannot state (the spec says so in prose): no request expectation.
        try send("422 quantity 2.0", .order(TestOrderBody.withItem(TestOrderBody.item(quantity: "2.0"))), expect: 422)
        try send("422 total over 10^15", .order(TestOrderBody.make(items: "[" + Array(repeating: TestOrderBody.item(quantity: "1000", price: "1000000000000"), count: 2).joined(separator: ",") + "]")), expect: 422)
    }

    func exerciseRoutingAndReservedPaths() throws {
        let id = "01a21a2e-7c73-72b3-b04e-a3379c39b7b4"
        try send("405 POST /healthz", WireRequest("POST", "/healthz", headers: [("Content-Type", "application/json")], body: Array("{}".utf8)), expect: 405)
        try send("405 GET /orders", WireRequest("GET", "/orders"), expect: 405)
        try send("405 DELETE /orders", WireRequest("DELETE", "/orders"), expect: 405)
        let head405 = try send("405 HEAD /orders", WireRequest("HEAD", "/orders"), expect: 405)
        #expect(head405.body.isEmpty)
        try send("405 PUT /orders/{id}", WireRequest("PUT", "/orders/\(id)", headers: [("Content-Type", "application/json")], body: Array("{}".utf8)), expect: 405)
        try send("404 unknown path", WireRequest("GET", "/nope"), expect: 404)
        try send("404 POST to an unknown path", .init("POST", "/orders/../orders", headers: [("Content-Type", "application/json")], body: Array(TestOrderBody.valid.utf8)), expect: 404)
        try send("GET /metrics from loopback", WireRequest("GET", "/metrics"), expect: 200)
        try send("GET /status from loopback", WireRequest("GET", "/status"), expect: 200)
        try send("POST /orders before /stats", .order(TestOrderBody.valid), expect: 201)
        try send("GET /stats from loopback", WireRequest("GET", "/stats"), expect: 200)
        try send("GET /stats from 127.0.0.2", WireRequest("GET", "/stats"), from: "127.0.0.2", expect: 403)
        try send("GET /metrics from 127.0.0.2", WireRequest("GET", "/metrics"), from: "127.0.0.2", expect: 403)
        try send("GET /status from 127.0.0.2", WireRequest("GET", "/status"), from: "127.0.0.2", expect: 403)
        try send("404 from nginx: its internal error page", WireRequest("GET", "/.orderd-errors/400"), expect: 404)
    }

    /// What nginx refuses before routing (`x-refused-by-nginx`): JSON errors with X-Request-Id.
    func exerciseMalformedHTTP() throws {
        let json = [("Content-Type", "application/json")]
        try send("nginx 400: dot segments above the root", WireRequest("GET", "/../../etc/passwd"), expect: 400, refusedByNginx: true)
        try send("nginx 400: not a request line", WireRequest(method: "GARBAGE", path: "", raw: "GARBAGE\r\n\r\n"), expect: 400, refusedByNginx: true)
        try send("nginx 400: negative Content-Length", WireRequest("POST", "/orders", headers: json + [("Content-Length", "-1")]), expect: 400, refusedByNginx: true)
        try send("nginx 400: headers too large", WireRequest("GET", "/healthz", headers: [("X-Big", String(repeating: "a", count: 20_000))]), expect: 400, refusedByNginx: true)
        try send("nginx 405: TRACE", WireRequest("TRACE", "/orders"), expect: 405, refusedByNginx: true)
        try send("nginx 414: request line too long", WireRequest("GET", "/" + String(repeating: "a", count: 10_000)), expect: 414, refusedByNginx: true)
        try send("nginx 501: Transfer-Encoding gzip", WireRequest("POST", "/orders", headers: json + [("Transfer-Encoding", "gzip")], body: Array("{}".utf8)), expect: 501, refusedByNginx: true)
        try send("nginx 505: HTTP/2.0", WireRequest(method: "GET", path: "/healthz", raw: "GET /healthz HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n"), expect: 505, refusedByNginx: true)
    }

    /// Holds SQLite's write lock from another process: the POST waits busy_timeout and gets 503; nothing is
    /// stored (the same Idempotency-Key is fresh afterwards), and the store works again once the lock is gone.
    func exerciseBusyStore() throws {
        let lock = try SQLiteWriteLock(databasePath: stack.databasePath)

        let key = "busy-\(UInt64.random(in: 0...UInt64.max))"
        let busy = try send("503 store busy", .order(TestOrderBody.valid, headers: [("Idempotency-Key", key)]), expect: 503, request: .valid)
        #expect(busy.header("retry-after") == "1")
        try lock.release()

        let after = try send("after 503: the same key creates the order", .order(TestOrderBody.valid, headers: [("Idempotency-Key", key)]), expect: 201, request: .valid)
        #expect(after.header("idempotent-replayed") == nil)
    }

    /// nginx's 502 for every operation once orderd is gone.
    func exerciseOrderdDown() throws {
        let id = "01a21a2e-7c73-72b3-b04e-a3379c39b7b4"
        #expect(stack.stopOrderd(signal: SIGTERM, timeout: .seconds(10)) == 0)
        try send("502 GET /healthz", WireRequest("GET", "/healthz"), expect: 502)
        try send("502 GET /readyz", WireRequest("GET", "/readyz"), expect: 502)
        try send("502 HEAD /healthz", WireRequest("HEAD", "/healthz"), expect: 502)
        try send("502 POST /orders", .order(TestOrderBody.valid), expect: 502, request: .valid)
        try send("502 GET /orders/{id}", WireRequest("GET", "/orders/\(id)"), expect: 502)
        try send("502 HEAD /orders/{id}", WireRequest("HEAD", "/orders/\(id)"), expect: 502)
        try send("502 GET /metrics", WireRequest("GET", "/metrics"), expect: 502)
        try send("502 GET /status", WireRequest("GET", "/status"), expect: 502)
        try send("502 GET /stats", WireRequest("GET", "/stats"), expect: 502)
    }
}

// MARK: - Exchanges and the checker

struct RecordedExchange {
    var name: String
    var method: String
    var target: String
    var requestHeaders: [(String, String)]
    var requestBody: [UInt8]?
    var requestExpectation: String?
    /// A request nginx refuses before routing it: checked against the spec's `x-refused-by-nginx`.
    var refusedByNginx = false
    var response: RawHTTPResponse

    var json: [String: Any] {
        var requestHeaderObject: [String: String] = [:]
        for (name, value) in requestHeaders { requestHeaderObject[name.lowercased()] = value }
        return [
            "name": name,
            "method": method,
            "target": target,
            "request_headers": requestHeaderObject,
            "request_body_b64": requestBody.map { Data($0).base64EncodedString() } ?? NSNull(),
            "request_expectation": requestExpectation ?? NSNull(),
            "refused_by_nginx": refusedByNginx,
            "status": response.status,
            "headers": response.headers,
            "body_b64": Data(response.body).base64EncodedString(),
        ]
    }
}

final class RecordedExchangeLog {
    private(set) var exchanges: [RecordedExchange] = []

    func append(_ exchange: RecordedExchange) {
        precondition(!exchanges.contains { $0.name == exchange.name }, "exchange names must be unique: \(exchange.name)")
        exchanges.append(exchange)
    }
}

/// Runs `scripts/openapi-check.py` on recorded exchanges.
struct OpenAPICheck {
    var fatal: String?
    var specErrors: [String] = []
    var problems: [String: [String]] = [:]
    var missing: [String] = []
    var staleMarkers: [String] = []
    var notes: [String] = []
    var checkedExchanges = 0
    var rawOutput = ""
    var exitStatus: Int32 = 0

    static func run(_ exchanges: [RecordedExchange]) throws -> OpenAPICheck {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("orderd-openapi-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = dir + "/exchanges.json"
        let reportPath = dir + "/report.json"
        let data = try JSONSerialization.data(withJSONObject: ["exchanges": exchanges.map(\.json)], options: [.sortedKeys])
        try data.write(to: URL(fileURLWithPath: input))

        let result = try Stack.run(
            "/usr/bin/env",
            ["python3", Stack.repo + "/scripts/openapi-check.py", "--spec", Stack.repo + "/openapi.yaml", "--exchanges", input, "--report", reportPath])
        var check = OpenAPICheck()
        check.rawOutput = result.output
        check.exitStatus = result.status
        guard let reportData = FileManager.default.contents(atPath: reportPath),
            let report = try? JSONSerialization.jsonObject(with: reportData) as? [String: Any]
        else {
            check.fatal = "openapi-check.py wrote no report (exit \(result.status)): \(result.output.suffix(2000))"
            return check
        }
        check.fatal = report["fatal"] as? String
        check.specErrors = report["spec_errors"] as? [String] ?? []
        check.missing = report["missing"] as? [String] ?? []
        check.staleMarkers = report["stale_markers"] as? [String] ?? []
        check.notes = report["notes"] as? [String] ?? []
        for entry in report["exchanges"] as? [[String: Any]] ?? [] {
            guard let name = entry["name"] as? String else { continue }
            check.problems[name] = entry["problems"] as? [String] ?? []
            check.checkedExchanges += 1
        }
        return check
    }

    /// Every finding becomes an issue of the calling test; a checker that could not run is a failure too.
    func recordIssues() {
        if let fatal {
            Issue.record("openapi-check.py could not run: \(fatal)")
            return
        }
        for error in specErrors { Issue.record("openapi.yaml: \(error)") }
        for (name, problems) in problems.sorted(by: { $0.key < $1.key }) {
            for problem in problems { Issue.record("\(name): \(problem)") }
        }
        for text in missing { Issue.record("documented but never produced by this test: \(text)") }
        for text in staleMarkers { Issue.record("stale x-conformance marker: \(text)") }
        let findings = specErrors.count + problems.values.map(\.count).reduce(0, +) + missing.count + staleMarkers.count
        if exitStatus != 0 && findings == 0 {
            Issue.record("openapi-check.py exited \(exitStatus) without findings: \(rawOutput.suffix(2000))")
        }
        for note in notes { print("openapi-check: \(note)") }
    }
}
