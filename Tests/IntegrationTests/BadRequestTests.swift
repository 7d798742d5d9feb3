import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Bad requests through the real nginx to the real orderd, one table, one stack.
///
/// Every case states the status and `error.code` a client gets, and for 422 the exact `details[].field` list,
/// for `invalid_json` the exact byte `offset`, for 405 the `Allow` header. A few cases are valid on purpose
/// (chunked bodies, `note: null`, 100 items, …) and must be accepted. Malformed HTTP that nginx refuses before
/// routing gets nginx's JSON error (`nginx/orderd.conf`, `/.orderd-errors/`), at once. After the whole table the
/// suite checks, on the stack's SQLite file, that exactly the accepted cases were stored and nothing else, and
/// that orderd is still up and logged no unexpected error.
@Suite(.sharedBadRequestStack, .timeLimit(.minutes(10)))
struct BadRequestTests {
    static let cases: [BadRequest] = contentTypeCases + framingCases + syntaxCases + shapeCases + fieldCases
        + idempotencyKeyCases + routingCases + malformedHTTPCases

    @Test(arguments: cases)
    func refusedWithItsStatusAndCode(_ badRequest: BadRequest) throws {
        let shared = try #require(BadRequestStack.current, "the suite trait starts the shared stack")
        let response = try RawHTTP.send(badRequest.raw, port: shared.stack.port)
        let context = Comment(rawValue: "\(response.status) \(response.bodyText.prefix(600))")

        #expect(response.status == badRequest.expectedStatus, context)
        #expect(
            response.header("content-type")?.split(separator: ";").first.map(String.init) == badRequest.expectedContentType,
            context)
        if badRequest.refusedByNginx {
            // nginx answers these itself, before routing, and closes the connection (a request it waited on would
            // have run into the client's 20 s timeout: client_header_timeout is 60 s).
            #expect(response.header("connection") == "close", context)
        }

        if badRequest.expectedStatus == 201 {
            let location = try #require(response.header("location"), context)
            #expect(location.hasPrefix("/orders/"), context)
            shared.recordAccepted(badRequest.name, location: location)
            return
        }
        let expectedCode = try #require(badRequest.expectedCode, "every refusal is a JSON error")
        if badRequest.expectedNoBody {
            #expect(response.body.isEmpty, context)
            let requestID = try #require(response.header("x-request-id"), "X-Request-Id is on every error")
            #expect(requestID.count == 32 && requestID.allSatisfy { $0.isHexDigit && !$0.isUppercase }, context)
            return
        }

        let error = try #require(response.json?["error"] as? [String: Any], context)
        #expect(error["code"] as? String == expectedCode, context)
        #expect((error["message"] as? String)?.isEmpty == false, context)
        if let suffix = badRequest.expectedMessageSuffix {
            #expect((error["message"] as? String)?.hasSuffix(suffix) == true, context)
        }
        let requestID = try #require(response.header("x-request-id"), "X-Request-Id is on every JSON error")
        #expect(error["request_id"] as? String == requestID, context)
        #expect(requestID.count == 32 && requestID.allSatisfy { $0.isHexDigit && !$0.isUppercase }, context)

        if let offset = badRequest.expectedOffset {
            #expect(error["offset"] as? Int == offset, context)
        } else {
            #expect(error["offset"] == nil, context)
        }
        if let fields = badRequest.expectedFields {
            let details = try #require(error["details"] as? [[String: Any]], context)
            #expect(details.map { $0["field"] as? String ?? "<no field>" } == fields, context)
            #expect(details.allSatisfy { ($0["message"] as? String)?.isEmpty == false }, context)
        } else {
            #expect(error["details"] == nil, context)
        }
        if let allow = badRequest.expectedAllow {
            #expect(response.header("allow") == allow, context)
        }
    }

    /// A request line without a version is HTTP/0.9 to nginx: the answer is the body alone, no status line and
    /// no headers (so no X-Request-Id header), JSON all the same. The one refusal that cannot carry headers.
    @Test func http09RequestLineGetsTheBodyAlone() throws {
        let shared = try #require(BadRequestStack.current, "the suite trait starts the shared stack")
        let refused = try RawHTTP.sendReceivingBytes(Array("GET /../../etc/passwd\r\n".utf8), port: shared.stack.port)
        let text = String(decoding: refused, as: UTF8.self)
        #expect(!text.hasPrefix("HTTP/"), "\(text.prefix(200))")
        let error = try #require(
            ((try? JSONSerialization.jsonObject(with: Data(refused))) as? [String: Any])?["error"] as? [String: Any],
            "\(text.prefix(200))")
        #expect(error["code"] as? String == "bad_request")
        #expect((error["request_id"] as? String)?.count == 32)

        // A well-formed HTTP/0.9 GET reaches orderd; nginx strips the headers of its answer.
        let health = try RawHTTP.sendReceivingBytes(Array("GET /healthz\r\n".utf8), port: shared.stack.port)
        #expect(String(decoding: health, as: UTF8.self) == #"{"status":"ok"}"#)
    }
}

// MARK: - The case type

struct BadRequest: Sendable, CustomTestStringConvertible {
    var name: String
    /// The method and path, for reading the table; `raw` is what is sent.
    var method: String
    var path: String
    /// The whole request as it goes on the wire.
    var raw: [UInt8]
    var expectedStatus: Int
    /// `error.code`; nil when the answer is not a JSON error (201, or nginx's stock HTML page).
    var expectedCode: String?
    /// For 422: the exact `details[].field` list, in order.
    var expectedFields: [String]? = nil
    /// For `invalid_json`: the exact `offset`.
    var expectedOffset: Int? = nil
    /// For 405: the exact `Allow` header.
    var expectedAllow: String? = nil
    /// How `error.message` ends, when the case is about the message.
    var expectedMessageSuffix: String? = nil
    /// nginx refuses the request itself before routing it: answered at once, connection closed.
    var refusedByNginx = false
    /// A HEAD request: the headers of the error, no body.
    var expectedNoBody = false
    var expectedContentType = "application/json"

    var testDescription: String { "\(name) [\(method) \(path.prefix(60))]" }

    /// A JSON error from orderd (or nginx's JSON error page).
    static func error(
        _ name: String, _ request: WireRequest, _ status: Int, _ code: String, allow: String? = nil
    ) -> BadRequest {
        BadRequest(
            name: name, method: request.method, path: request.path, raw: request.bytes, expectedStatus: status,
            expectedCode: code, expectedAllow: allow)
    }

    /// 400 `invalid_json` at `offset`.
    static func invalidJSON(_ name: String, _ request: WireRequest, offset: Int) -> BadRequest {
        var result = error(name, request, 400, "invalid_json")
        result.expectedOffset = offset
        return result
    }

    /// 422 `validation_failed` with exactly these `details[].field`, in order.
    static func invalid(_ name: String, _ request: WireRequest, fields: [String]) -> BadRequest {
        var result = error(name, request, 422, "validation_failed")
        result.expectedFields = fields
        return result
    }

    /// Looks odd, is valid: 201.
    static func accepted(_ name: String, _ request: WireRequest) -> BadRequest {
        BadRequest(name: name, method: request.method, path: request.path, raw: request.bytes, expectedStatus: 201, expectedCode: nil)
    }

    /// Refused by nginx itself before routing, with its JSON error page (`error_page` in nginx/orderd.conf).
    static func nginx(_ name: String, _ request: WireRequest, _ status: Int, _ code: String, allow: String? = nil) -> BadRequest {
        var result = error(name, request, status, code, allow: allow)
        result.refusedByNginx = true
        result.expectedNoBody = request.method == "HEAD"
        return result
    }

    /// The same case, also checking how `error.message` ends.
    func message(endingWith suffix: String) -> BadRequest {
        var result = self
        result.expectedMessageSuffix = suffix
        return result
    }
}

/// A request as bytes: an HTTP/1.1 request with `Connection: close`, and `Content-Length` for a body unless
/// told otherwise (or unless the headers already say how the body is framed).
struct WireRequest: Sendable {
    var method: String
    var path: String
    var bytes: [UInt8]

    init(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil, contentLength: Bool = true) {
        self.method = method
        self.path = path
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let framed = headers.contains { ["content-length", "transfer-encoding"].contains($0.0.lowercased()) }
        if let body, contentLength, !framed { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        bytes = Array(head.utf8) + (body ?? [])
    }

    /// Exactly these bytes (a request line or headers that `init` would not write); `method` and `path` only
    /// name it.
    init(method: String, path: String, raw: String) {
        self.method = method
        self.path = path
        bytes = Array(raw.utf8)
    }

    /// `POST /orders` with `Content-Type: application/json`.
    static func order(_ body: String, headers: [(String, String)] = []) -> WireRequest {
        order(Array(body.utf8), headers: headers)
    }

    static func order(_ body: [UInt8], headers: [(String, String)] = []) -> WireRequest {
        WireRequest("POST", "/orders", headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    /// `POST /orders` with a chunked body (one chunk per element of `chunks`).
    static func chunkedOrder(_ chunks: [[UInt8]]) -> WireRequest {
        var body: [UInt8] = []
        for chunk in chunks {
            body += Array("\(String(chunk.count, radix: 16))\r\n".utf8) + chunk + Array("\r\n".utf8)
        }
        body += Array("0\r\n\r\n".utf8)
        return WireRequest(
            "POST", "/orders", headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")], body: body)
    }
}

/// Order bodies: a valid one, and the same with one part replaced. Keys in schema order.
enum TestOrderBody {
    static let phone = #"{"phone":"+8613800138000"}"#
    static let item = #"{"sku":"SKU-1","quantity":2,"unit_price_cents":1299}"#
    static let valid = make()

    static func make(
        customer: String = phone, currency: String = #""CNY""#, items: String = "[\(item)]", note: String? = nil,
        extra: String = ""
    ) -> String {
        var body = #"{"customer":\#(customer),"currency":\#(currency),"items":\#(items)"#
        if let note { body += #","note":\#(note)"# }
        return body + extra + "}"
    }

    static func item(sku: String = #""SKU-1""#, quantity: String = "2", price: String = "1299", extra: String = "") -> String {
        #"{"sku":\#(sku),"quantity":\#(quantity),"unit_price_cents":\#(price)\#(extra)}"#
    }

    static func withPhone(_ phone: String) -> String { make(customer: #"{"phone":\#(phone)}"#) }
    static func withEmail(_ email: String) -> String { make(customer: #"{"phone":"+8613800138000","email":\#(email)}"#) }
    static func withItem(_ item: String) -> String { make(items: "[\(item)]") }
    static func withItems(_ count: Int) -> String { make(items: "[" + Array(repeating: item, count: count).joined(separator: ",") + "]") }
}

// MARK: - The table

extension BadRequestTests {
    static let contentTypeCases: [BadRequest] = [
        // nginx passes an empty CONTENT_TYPE when there is no header: orderd says "none", not "''".
        .error("no Content-Type", WireRequest("POST", "/orders", body: Array(TestOrderBody.valid.utf8)), 415, "unsupported_media_type")
            .message(endingWith: "got none."),
        .error("empty Content-Type", WireRequest("POST", "/orders", headers: [("Content-Type", "")], body: Array(TestOrderBody.valid.utf8)), 415, "unsupported_media_type")
            .message(endingWith: "got none."),
        .error("Content-Type text/plain", WireRequest("POST", "/orders", headers: [("Content-Type", "text/plain")], body: Array(TestOrderBody.valid.utf8)), 415, "unsupported_media_type"),
        .error("form-urlencoded", WireRequest("POST", "/orders", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(TestOrderBody.valid.utf8)), 415, "unsupported_media_type"),
        .error("charset=latin1", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json; charset=latin1")], body: Array(TestOrderBody.valid.utf8)), 415, "unsupported_media_type"),
        .error("charset=utf-16", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json; charset=utf-16")], body: Array(TestOrderBody.valid.utf8)), 415, "unsupported_media_type"),
        .error("application/json-seq", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json-seq")], body: Array(TestOrderBody.valid.utf8)), 415, "unsupported_media_type"),
        .error("media type parameter without a value", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json; utf-8")], body: Array(TestOrderBody.valid.utf8)), 415, "unsupported_media_type"),
        .accepted("upper-case media type with quoted charset=\"UTF-8\" is fine", WireRequest("POST", "/orders", headers: [("Content-Type", #"APPLICATION/JSON;Charset="UTF-8""#)], body: Array(TestOrderBody.valid.utf8))),
        // RFC 9110 8.3.1: `parameters = *( OWS ";" OWS [ parameter ] )`, so an empty parameter is no parameter.
        .accepted("application/json; (empty parameter) is fine", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json;")], body: Array(TestOrderBody.valid.utf8))),
        .accepted("application/json; charset=utf-8; (trailing empty parameter) is fine", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json; charset=utf-8;")], body: Array(TestOrderBody.valid.utf8))),
    ]

    static let framingCases: [BadRequest] = [
        .error("no Content-Length and no body", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json")]), 411, "length_required"),
        // nginx buffers a chunked body (fastcgi_request_buffering on) and passes its size as CONTENT_LENGTH.
        .accepted("chunked body: nginx buffers it and sets CONTENT_LENGTH", .chunkedOrder([Array(TestOrderBody.valid.utf8.prefix(40)), Array(TestOrderBody.valid.utf8.dropFirst(40))])),
        .error("chunked body of zero bytes", .chunkedOrder([]), 400, "bad_request"),
        .error("Content-Length: 0", WireRequest.order(""), 400, "bad_request"),
        // nginx's 413 has orderd's code, and neither names the size (client_max_body_size = max_body_bytes).
        .error("body over 64k: nginx's JSON 413", WireRequest.order(String(repeating: " ", count: 65_537)), 413, "content_too_large")
            .message(endingWith: "larger than this server accepts."),
        .error("chunked body over 64k: nginx's JSON 413", .chunkedOrder([Array(repeating: 0x20, count: 40_000), Array(repeating: 0x20, count: 40_000)]), 413, "content_too_large"),
        .error("Content-Length of 1 MB announced, nothing sent: nginx answers at once", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Content-Length", "1000000")]), 413, "content_too_large"),
        // nginx passes Content-Length on as sent: orderd reads the zero-padded number (19 digits, 1 significant).
        .invalid("zero-padded Content-Length 0000000000000000002", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Content-Length", "0000000000000000002")], body: Array("{}".utf8)), fields: ["customer", "currency", "items"]),
        .error("Content-Length of 19 zeros", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Content-Length", "0000000000000000000")]), 400, "bad_request"),
        // Exactly 64 KiB passes nginx and orderd's own limit and is parsed: a note of 65 525 characters.
        .invalid("body of exactly 65 536 bytes reaches the validator", .order(#"{"note":""# + String(repeating: "x", count: 65_536 - 11) + #""}"#), fields: ["customer", "currency", "items", "note"]),
        // Framing nginx refuses itself (the rest of malformed HTTP is in malformedHTTPCases).
        .nginx("two Content-Length headers", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Content-Length", "2"), ("Content-Length", "2")], body: Array("{}".utf8)), 400, "bad_request"),
        .nginx("Content-Length and Transfer-Encoding together", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Content-Length", "2"), ("Transfer-Encoding", "chunked")], body: Array("2\r\n{}\r\n0\r\n\r\n".utf8)), 400, "bad_request"),
        .nginx("negative Content-Length", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Content-Length", "-1")]), 400, "bad_request"),
        .nginx("Content-Length not a number", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Content-Length", "12abc")]), 400, "bad_request"),
        .nginx("Content-Length of 23 digits", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Content-Length", "99999999999999999999999")]), 400, "bad_request"),
        .nginx("chunked body with a bad chunk size", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")], body: Array("zz\r\n{}\r\n0\r\n\r\n".utf8)), 400, "bad_request"),
        // RFC 9112 6.1: a transfer coding the server does not understand is 501. No wait, body or not.
        .nginx("Transfer-Encoding: gzip", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "gzip")]), 501, "not_implemented"),
        .nginx("Transfer-Encoding: gzip with a body", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "gzip")], body: Array(TestOrderBody.valid.utf8)), 501, "not_implemented"),
        .nginx("Transfer-Encoding: gzip, chunked", .init("POST", "/orders", headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "gzip, chunked")], body: Array("2\r\n{}\r\n0\r\n\r\n".utf8)), 501, "not_implemented"),
        .nginx("Transfer-Encoding: identity", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "identity")], body: Array("{}".utf8)), 501, "not_implemented"),
    ]

    static let syntaxCases: [BadRequest] = [
        .invalidJSON("only whitespace", .order("   \n"), offset: 4),
        .invalidJSON("byte order mark", .order([0xEF, 0xBB, 0xBF] + Array("{}".utf8)), offset: 0),
        .invalidJSON("invalid UTF-8 byte 0xFF in a string", .order(Array(#"{"note":""#.utf8) + [0xFF] + Array(#""}"#.utf8)), offset: 9),
        .invalidJSON("overlong UTF-8 encoding of '/'", .order(Array(#"{"note":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8)), offset: 9),
        .invalidJSON("UTF-8-encoded surrogate U+D800", .order(Array(#"{"note":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8)), offset: 9),
        .invalidJSON("invalid UTF-8 outside a string", .order(Array("{".utf8) + [0xFE] + Array("}".utf8)), offset: 1),
        .invalidJSON("truncated JSON", .order(String(TestOrderBody.valid.dropLast())), offset: TestOrderBody.valid.utf8.count - 1),
        .invalidJSON("trailing garbage", .order(TestOrderBody.valid + "x"), offset: TestOrderBody.valid.utf8.count),
        .invalidJSON("two JSON values", .order("{} {}"), offset: 3),
        .invalidJSON("unterminated string", .order(#"{"note":"abc"#), offset: 12),
        .invalidJSON("10 000 nested arrays", .order(String(repeating: "[", count: 10_000)), offset: 32),
        // The 33rd level: the top object is level 1 at byte 0, the note's object level 2 at byte 8, then one
        // `{"a":` (5 bytes) per level.
        .invalidJSON("objects nested 33 deep inside a field", .order(#"{"note":"# + String(repeating: #"{"a":"#, count: 40)), offset: 8 + 5 * 31),
        .invalidJSON("duplicate key", .order(#"{"currency":"CNY","currency":"USD"}"#), offset: 18),
        .invalidJSON("duplicate key spelled with an escape", .order(#"{"note":"a","\u006eote":"b"}"#), offset: 12),
        .invalidJSON("duplicate key in NFC and NFD", .order(#"{"é":1,"e\u0301":2}"#), offset: 8),
        .invalidJSON("raw NUL byte in a string", .order(Array(#"{"note":"a"#.utf8) + [0] + Array(#"b"}"#.utf8)), offset: 10),
        .invalidJSON("raw tab in a string", .order("{\"note\":\"a\tb\"}"), offset: 10),
        .invalidJSON("lone high surrogate", .order(#"{"note":"\ud800"}"#), offset: 9),
        .invalidJSON("lone low surrogate", .order(#"{"note":"\udc00"}"#), offset: 9),
        .invalidJSON("high surrogate followed by a non-surrogate escape", .order(#"{"note":"\ud800\u0041"}"#), offset: 9),
        .invalidJSON("unknown escape \\x", .order(#"{"note":"\x41"}"#), offset: 9),
        .invalidJSON("number with a leading zero", .order(#"{"items":[{"quantity":01}]}"#), offset: 23),
        .invalidJSON("single-quoted key", .order("{'note':1}"), offset: 1),
        .invalidJSON("NaN", .order(#"{"note":NaN}"#), offset: 8),
        .invalidJSON("trailing comma", .order(#"{"currency":"CNY",}"#), offset: 18),
    ]

    static let shapeCases: [BadRequest] = [
        .invalid("body is an array", .order("[]"), fields: [""]),
        .invalid("body is a string", .order(#""order""#), fields: [""]),
        .invalid("empty object: every required field missing", .order("{}"), fields: ["customer", "currency", "items"]),
        .invalid("required fields null", .order(#"{"customer":null,"currency":null,"items":null,"note":null}"#), fields: ["customer", "currency", "items"]),
        .invalid("customer without phone", .order(TestOrderBody.make(customer: "{}")), fields: ["customer.phone"]),
        .invalid("item without any field", .order(TestOrderBody.make(items: "[{}]")), fields: ["items[0].sku", "items[0].quantity", "items[0].unit_price_cents"]),
        .invalid("every top-level field of the wrong type", .order(#"{"customer":1,"currency":2,"items":{},"note":[]}"#), fields: ["customer", "currency", "items", "note"]),
        .invalid(
            "every nested field of the wrong type",
            .order(TestOrderBody.make(customer: #"{"phone":1,"email":true}"#, items: #"[1,{"sku":2,"quantity":"2","unit_price_cents":false}]"#)),
            fields: ["customer.phone", "customer.email", "items[0]", "items[1].sku", "items[1].quantity", "items[1].unit_price_cents"]),
        .invalid(
            "unknown field at every level",
            .order(TestOrderBody.make(customer: #"{"phone":"+8613800138000","fax":"1"}"#, items: "[" + TestOrderBody.item(extra: #","color":"red""#) + "]", extra: #","coupon":"X""#)),
            fields: ["customer.fax", "items[0].color", "coupon"]),
        .invalid("field name in another case", .order(#"{"customer":{"phone":"+8613800138000"},"Currency":"CNY","items":[\#(TestOrderBody.item)]}"#), fields: ["currency", "Currency"]),
        .invalid("no items", .order(TestOrderBody.make(items: "[]")), fields: ["items"]),
        .invalid("101 items", .order(TestOrderBody.withItems(101)), fields: ["items"]),
        .accepted("100 items", .order(TestOrderBody.withItems(100))),
        .invalid(
            "problems in several items are all reported",
            .order(TestOrderBody.make(items: "[" + [TestOrderBody.item, TestOrderBody.item(quantity: "0"), TestOrderBody.item(sku: #""a b""#)].joined(separator: ",") + "]")),
            fields: ["items[1].quantity", "items[2].sku"]),
    ]

    static let fieldCases: [BadRequest] = [
        // Integers.
        .invalid("quantity 0", .order(TestOrderBody.withItem(TestOrderBody.item(quantity: "0"))), fields: ["items[0].quantity"]),
        .invalid("quantity 1001", .order(TestOrderBody.withItem(TestOrderBody.item(quantity: "1001"))), fields: ["items[0].quantity"]),
        .invalid("quantity -1", .order(TestOrderBody.withItem(TestOrderBody.item(quantity: "-1"))), fields: ["items[0].quantity"]),
        .invalid("quantity 2.0", .order(TestOrderBody.withItem(TestOrderBody.item(quantity: "2.0"))), fields: ["items[0].quantity"]),
        .invalid("quantity 1e3", .order(TestOrderBody.withItem(TestOrderBody.item(quantity: "1e3"))), fields: ["items[0].quantity"]),
        .invalid("quantity beyond Int64", .order(TestOrderBody.withItem(TestOrderBody.item(quantity: "99999999999999999999999"))), fields: ["items[0].quantity"]),
        .invalid("quantity as a string", .order(TestOrderBody.withItem(TestOrderBody.item(quantity: #""2""#))), fields: ["items[0].quantity"]),
        .invalid("negative unit price", .order(TestOrderBody.withItem(TestOrderBody.item(price: "-1"))), fields: ["items[0].unit_price_cents"]),
        .invalid("unit price 10^12 + 1", .order(TestOrderBody.withItem(TestOrderBody.item(price: "1000000000001"))), fields: ["items[0].unit_price_cents"]),
        .invalid("unit price 1e999999", .order(TestOrderBody.withItem(TestOrderBody.item(price: "1e999999"))), fields: ["items[0].unit_price_cents"]),
        .invalid("unit price below Int64.min", .order(TestOrderBody.withItem(TestOrderBody.item(price: "-9223372036854775809"))), fields: ["items[0].unit_price_cents"]),
        .invalid(
            "total over 10^15 cents",
            .order(TestOrderBody.make(items: "[" + Array(repeating: TestOrderBody.item(quantity: "1000", price: "1000000000000"), count: 2).joined(separator: ",") + "]")),
            fields: ["items"]),
        // Phone.
        .invalid("phone without +", .order(TestOrderBody.withPhone(#""8613800138000""#)), fields: ["customer.phone"]),
        .invalid("phone with 7 digits", .order(TestOrderBody.withPhone(#""+1234567""#)), fields: ["customer.phone"]),
        .invalid("phone with 16 digits", .order(TestOrderBody.withPhone(#""+1234567890123456""#)), fields: ["customer.phone"]),
        .invalid("phone starting +0", .order(TestOrderBody.withPhone(#""+0613800138000""#)), fields: ["customer.phone"]),
        .invalid("phone with spaces", .order(TestOrderBody.withPhone(#""+86 138 0013 8000""#)), fields: ["customer.phone"]),
        .invalid("phone with dashes", .order(TestOrderBody.withPhone(#""+86-138-0013-8000""#)), fields: ["customer.phone"]),
        .invalid("phone in full-width digits", .order(TestOrderBody.withPhone(#""+８６１３８００１３８０００""#)), fields: ["customer.phone"]),
        .invalid("empty phone", .order(TestOrderBody.withPhone(#""""#)), fields: ["customer.phone"]),
        // Email.
        .invalid("email without @", .order(TestOrderBody.withEmail(#""li.example.com""#)), fields: ["customer.email"]),
        .invalid("email with two @", .order(TestOrderBody.withEmail(#""li@x@example.com""#)), fields: ["customer.email"]),
        .invalid("email domain without a dot", .order(TestOrderBody.withEmail(#""li@localhost""#)), fields: ["customer.email"]),
        .invalid("email domain starting with a dot", .order(TestOrderBody.withEmail(#""li@.example.com""#)), fields: ["customer.email"]),
        .invalid("email domain with ..", .order(TestOrderBody.withEmail(#""li@example..com""#)), fields: ["customer.email"]),
        .invalid("email with a space", .order(TestOrderBody.withEmail(#""li ming@example.com""#)), fields: ["customer.email"]),
        .invalid("email local part of 65 bytes", .order(TestOrderBody.withEmail("\"" + String(repeating: "a", count: 65) + "@example.com\"")), fields: ["customer.email"]),
        .invalid("email of 255 bytes", .order(TestOrderBody.withEmail("\"li@" + String(repeating: "a", count: 248) + ".com\"")), fields: ["customer.email"]),
        .invalid("email with U+202E (bidi override)", .order(TestOrderBody.withEmail(#""li\u202E@example.com""#)), fields: ["customer.email"]),
        .invalid("email with escaped \\u0000", .order(TestOrderBody.withEmail(#""li\u0000@example.com""#)), fields: ["customer.email"]),
        // Currency.
        .invalid("lower-case currency", .order(TestOrderBody.make(currency: #""cny""#)), fields: ["currency"]),
        .invalid("unknown currency ABC", .order(TestOrderBody.make(currency: #""ABC""#)), fields: ["currency"]),
        .invalid("withdrawn currency BGN", .order(TestOrderBody.make(currency: #""BGN""#)), fields: ["currency"]),
        .invalid("four-letter currency", .order(TestOrderBody.make(currency: #""EURO""#)), fields: ["currency"]),
        .invalid("empty currency", .order(TestOrderBody.make(currency: #""""#)), fields: ["currency"]),
        // SKU.
        .invalid("sku with a space", .order(TestOrderBody.withItem(TestOrderBody.item(sku: #""SKU 1""#))), fields: ["items[0].sku"]),
        .invalid("sku with a slash", .order(TestOrderBody.withItem(TestOrderBody.item(sku: #""SKU/1""#))), fields: ["items[0].sku"]),
        .invalid("sku of 65 characters", .order(TestOrderBody.withItem(TestOrderBody.item(sku: "\"" + String(repeating: "S", count: 65) + "\""))), fields: ["items[0].sku"]),
        .invalid("empty sku", .order(TestOrderBody.withItem(TestOrderBody.item(sku: #""""#))), fields: ["items[0].sku"]),
        .invalid("sku with a non-ASCII letter", .order(TestOrderBody.withItem(TestOrderBody.item(sku: #""SKU-é""#))), fields: ["items[0].sku"]),
        .invalid("sku with escaped \\u0000", .order(TestOrderBody.withItem(TestOrderBody.item(sku: #""SKU\u0000""#))), fields: ["items[0].sku"]),
        // Note.
        .invalid("note of 501 characters", .order(TestOrderBody.make(note: "\"" + String(repeating: "n", count: 501) + "\"")), fields: ["note"]),
        .accepted("note of 500 two-byte characters", .order(TestOrderBody.make(note: "\"" + String(repeating: "é", count: 500) + "\""))),
        .accepted("note null means no note", .order(TestOrderBody.make(note: "null"))),
        .invalid("note a number", .order(TestOrderBody.make(note: "42")), fields: ["note"]),
        .invalid("note with escaped \\u0000", .order(TestOrderBody.make(note: #""a\u0000b""#)), fields: ["note"]),
    ]

    /// An invalid key is refused before the body is parsed: each of these bodies would otherwise be a 422.
    static let idempotencyKeyCases: [BadRequest] = [
        .error("Idempotency-Key of 256 characters", .order("{}", headers: [("Idempotency-Key", String(repeating: "k", count: 256))]), 400, "bad_request"),
        .error("Idempotency-Key with a tab", .order("{}", headers: [("Idempotency-Key", "a\tb")]), 400, "bad_request"),
        .error("Idempotency-Key with a control character", .order("{}", headers: [("Idempotency-Key", "a\u{01}b")]), 400, "bad_request"),
        .error("Idempotency-Key with a non-ASCII letter", .order("{}", headers: [("Idempotency-Key", "clé")]), 400, "bad_request"),
        .error("empty Idempotency-Key", .order("{}", headers: [("Idempotency-Key", "")]), 400, "bad_request"),
        // nginx passes both as HTTP_IDEMPOTENCY_KEY; libfcgi's FCGX_GetParam would return the first only.
        .error("two Idempotency-Key headers", .order("{}", headers: [("Idempotency-Key", "two-keys-A"), ("Idempotency-Key", "two-keys-B")]), 400, "bad_request"),
        .error("the same Idempotency-Key twice", .order("{}", headers: [("Idempotency-Key", "same-key"), ("Idempotency-Key", "same-key")]), 400, "bad_request"),
        .error("two Idempotency-Key headers on a valid order", .order(TestOrderBody.valid, headers: [("Idempotency-Key", "two-keys-C"), ("Idempotency-Key", "two-keys-D")]), 400, "bad_request"),
    ]

    static let routingCases: [BadRequest] = {
        let unknownV7 = "01a21a2e-7c73-72b3-b04e-a3379c39b7b4"
        let body = Array(TestOrderBody.valid.utf8)
        let json = [("Content-Type", "application/json")]
        return [
            .error("GET /orders", WireRequest("GET", "/orders"), 405, "method_not_allowed", allow: "POST"),
            .error("PUT /orders", WireRequest("PUT", "/orders", headers: json, body: body), 405, "method_not_allowed", allow: "POST"),
            .error("DELETE /orders", WireRequest("DELETE", "/orders"), 405, "method_not_allowed", allow: "POST"),
            .error("OPTIONS /orders", WireRequest("OPTIONS", "/orders"), 405, "method_not_allowed", allow: "POST"),
            .error("POST /orders/{id}", WireRequest("POST", "/orders/\(unknownV7)", headers: json, body: body), 405, "method_not_allowed", allow: "GET, HEAD"),
            .error("DELETE /orders/{id}", WireRequest("DELETE", "/orders/\(unknownV7)"), 405, "method_not_allowed", allow: "GET, HEAD"),
            .error("PATCH /orders/{id}", WireRequest("PATCH", "/orders/\(unknownV7)", headers: json, body: Array(#"{"note":"x"}"#.utf8)), 405, "method_not_allowed", allow: "GET, HEAD"),
            .error("POST /healthz", WireRequest("POST", "/healthz", headers: json, body: body), 405, "method_not_allowed", allow: "GET, HEAD"),
            .error("malformed order id", WireRequest("GET", "/orders/not-an-id"), 404, "not_found"),
            .error("upper-case UUIDv7", WireRequest("GET", "/orders/\(unknownV7.uppercased())"), 404, "not_found"),
            .error("unknown well-formed UUIDv7", WireRequest("GET", "/orders/\(unknownV7)"), 404, "not_found"),
            .error("UUIDv4 instead of v7", WireRequest("GET", "/orders/0f8fad5b-d9cb-469f-a165-70867728950e"), 404, "not_found"),
            .error("empty order id", WireRequest("GET", "/orders/"), 404, "not_found"),
            .error("path below an order", WireRequest("GET", "/orders/\(unknownV7)/items"), 404, "not_found"),
            // orderd routes on the raw request target: nginx's normalized URI is only used for its locations.
            .error("GET /orders/../healthz (dot segments are not resolved)", WireRequest("GET", "/orders/../healthz"), 404, "not_found"),
            .error("GET /orders/%2e%2e/healthz", WireRequest("GET", "/orders/%2e%2e/healthz"), 404, "not_found"),
            .error("POST /orders/../orders with a valid order", WireRequest("POST", "/orders/../orders", headers: json, body: body), 404, "not_found"),
            .error("POST /%6Frders (percent-encoded) with a valid order", WireRequest("POST", "/%6Frders", headers: json, body: body), 404, "not_found"),
            .error("POST /orders/ with a valid order", WireRequest("POST", "/orders/", headers: json, body: body), 404, "not_found"),
            // nginx's own 404 (JSON too): its internal error-page locations are not reachable from outside.
            .error("GET /.orderd-errors/400 (nginx's internal error page)", WireRequest("GET", "/.orderd-errors/400"), 404, "not_found"),
            .error("POST /.orderd-errors/501 (nginx's internal error page)", WireRequest("POST", "/.orderd-errors/501", headers: json, body: body), 404, "not_found"),
            .error("GET /.orderd-errors/400/x goes to orderd", WireRequest("GET", "/.orderd-errors/400/x"), 404, "not_found"),
        ]
    }()

    /// Malformed HTTP: nginx refuses it before routing, most of it while parsing the request line (no URI
    /// yet: the reason its error pages are URI locations, not named ones).
    static let malformedHTTPCases: [BadRequest] = {
        let host = "Host: 127.0.0.1\r\nConnection: close\r\n"
        return [
            .nginx("dot segments above the root", WireRequest("GET", "/../../etc/passwd"), 400, "bad_request"),
            .nginx("percent-encoded dot segments above the root", WireRequest("GET", "/orders/%2e%2e/%2e%2e/x"), 400, "bad_request"),
            .nginx("%00 in the path", WireRequest("GET", "/orders/%00"), 400, "bad_request"),
            .nginx("HEAD with %00 in the path: no body", WireRequest("HEAD", "/orders/%00"), 400, "bad_request"),
            .nginx("a space in the path", WireRequest(method: "GET", path: "/a b", raw: "GET /a b HTTP/1.1\r\n\(host)\r\n"), 400, "bad_request"),
            .nginx("a lower-case method", WireRequest(method: "get", path: "/healthz", raw: "get /healthz HTTP/1.1\r\n\(host)\r\n"), 400, "bad_request"),
            .nginx("not a request line", WireRequest(method: "GARBAGE", path: "", raw: "GARBAGE\r\n\r\n"), 400, "bad_request"),
            .nginx("a TLS ClientHello on the plain port", WireRequest(method: "(TLS)", path: "", raw: "\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\u{01}"), 400, "bad_request"),
            .nginx("no Host on HTTP/1.1", WireRequest(method: "GET", path: "/healthz", raw: "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"), 400, "bad_request"),
            .nginx("two Host headers", WireRequest(method: "GET", path: "/healthz", raw: "GET /healthz HTTP/1.1\r\n\(host)Host: example.com\r\n\r\n"), 400, "bad_request"),
            .nginx("a Host with a slash", WireRequest(method: "GET", path: "/healthz", raw: "GET /healthz HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n"), 400, "bad_request"),
            .nginx("a header name with a space", WireRequest("GET", "/healthz", headers: [("Bad Header", "x")]), 400, "bad_request"),
            .nginx("a NUL byte in a header", WireRequest("GET", "/healthz", headers: [("X-A", "a\u{0}b")]), 400, "bad_request"),
            .nginx("Transfer-Encoding on HTTP/1.0", WireRequest(method: "POST", path: "/orders", raw: "POST /orders HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"), 400, "bad_request"),
            .nginx("Transfer-Encoding twice", WireRequest("POST", "/orders", headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")], body: Array("2\r\n{}\r\n0\r\n\r\n".utf8)), 400, "bad_request"),
            // 494 inside nginx, sent as 400.
            .nginx("a header of 20 000 bytes", WireRequest("GET", "/healthz", headers: [("X-Big", String(repeating: "a", count: 20_000))]), 400, "bad_request"),
            .nginx("a request line of 20 000 bytes", WireRequest("GET", "/" + String(repeating: "a", count: 20_000)), 414, "uri_too_long"),
            .nginx("HTTP/2.0 in the request line", WireRequest(method: "GET", path: "/healthz", raw: "GET /healthz HTTP/2.0\r\n\(host)\r\n"), 505, "http_version_not_supported"),
            .nginx("TRACE /orders: nginx's 405, Allow: POST", WireRequest("TRACE", "/orders"), 405, "method_not_allowed", allow: "POST"),
            .nginx("TRACE on an unknown path", WireRequest("TRACE", "/nope"), 405, "method_not_allowed", allow: "GET, HEAD"),
        ]
    }()
}

// MARK: - One stack for the whole suite

/// The stack every case of `BadRequestTests` talks to, and what the accepted cases created.
final class BadRequestStack: @unchecked Sendable {
    @TaskLocal static var current: BadRequestStack?

    let stack: Stack
    private let lock = NSLock()
    private var accepted: [(name: String, location: String)] = []

    init(stack: Stack) {
        self.stack = stack
    }

    func recordAccepted(_ name: String, location: String) {
        lock.lock()
        defer { lock.unlock() }
        accepted.append((name, location))
    }

    var acceptedLocations: [(name: String, location: String)] {
        lock.lock()
        defer { lock.unlock() }
        return accepted
    }

    struct Violation: Error, CustomStringConvertible {
        var description: String
    }

    /// After the table: the store holds exactly the orders of the accepted cases, no idempotency record, and
    /// orderd still answers and logged no unexpected error.
    func verifyAfterwards() throws {
        var problems: [String] = []
        let accepted = acceptedLocations
        let acceptedIDs = Set(accepted.map { String($0.location.dropFirst("/orders/".count)) })

        let query = try Stack.run("/usr/bin/sqlite3", ["-readonly", stack.databasePath, "SELECT id FROM orders; SELECT '--'; SELECT count(*) FROM orders WHERE idempotency_key IS NOT NULL;"])
        if query.status != 0 {
            problems.append("sqlite3 on \(stack.databasePath) failed (\(query.status)): \(query.output)")
        } else {
            let lines = query.output.split(separator: "\n").map(String.init)
            let separator = lines.firstIndex(of: "--") ?? lines.count
            let stored = Set(lines[..<separator])
            if stored != acceptedIDs {
                problems.append(
                    "stored orders are not exactly the accepted ones: stored but not accepted \(stored.subtracting(acceptedIDs).sorted()), "
                        + "accepted but not stored \(acceptedIDs.subtracting(stored).sorted())")
            }
            let keys = separator + 1 < lines.count ? lines[separator + 1] : "?"
            if keys != "0" { problems.append("\(keys) idempotency records stored; every request with a key was refused") }
        }
        for (name, location) in accepted {
            let response = try RawHTTP.request("GET", location, port: stack.port)
            if response.status != 200 { problems.append("\(name): GET \(location) is \(response.status)") }
        }
        let health = try RawHTTP.request("GET", "/healthz", port: stack.port)
        if health.status != 200 { problems.append("orderd is not healthy after the table: \(health.status) \(health.bodyText)") }
        if stack.orderd?.isRunning != true { problems.append("orderd is no longer running:\n\(stack.orderdLog.suffix(2000))") }
        let log = stack.orderdLog
        if log.contains("unexpected error") || log.contains("status=500") {
            problems.append("orderd logged an unexpected error:\n\(log.split(separator: "\n").filter { $0.contains("error") }.prefix(10).joined(separator: "\n"))")
        }
        if !problems.isEmpty { throw Violation(description: problems.joined(separator: "\n")) }
    }
}

/// Starts one stack for the suite it is attached to, runs the suite, then checks what the suite left behind
/// (`BadRequestStack.verifyAfterwards`) and tears the stack down.
struct SharedBadRequestStackTrait: SuiteTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        try stack.start()
        let shared = BadRequestStack(stack: stack)
        try await BadRequestStack.$current.withValue(shared) {
            try await function()
        }
        try shared.verifyAfterwards()
    }
}

extension Trait where Self == SharedBadRequestStackTrait {
    static var sharedBadRequestStack: Self { Self() }
}
