import Foundation

/// The kinds of bad request the HTTP fuzzer makes. Every generated request is built to be refused: a case that
/// gets a 2xx means the generator or orderd is wrong, and the fuzzer reports it as a failure.
enum HTTPFuzzClass: String, CaseIterable, Sendable {
    case malformedJSON = "malformed-json"
    case truncatedJSON = "truncated-json"
    case deepNesting = "deep-nesting"
    case hugeNumbers = "huge-numbers"
    case hugeStrings = "huge-strings"
    case invalidUTF8 = "invalid-utf8"
    case wrongTypes = "wrong-types"
    case contentTypes = "content-types"
    case oversizedBodies = "oversized-bodies"
    case lyingLength = "lying-length"
    case methodsAndPaths = "methods-and-paths"
    case headerAbuse = "header-abuse"
    case idempotencyKeys = "idempotency-keys"
}

/// One generated request and how to send it.
struct HTTPFuzzCase: Sendable {
    var index: Int
    var kind: HTTPFuzzClass
    var variant: String
    var bytes: [UInt8]
    /// Framing is sound and `Connection: close` is absent: it may go on a kept-alive connection.
    var keepAlive = true
    /// Sent on its own connection whose write side is then shut down: the request announced more body than it
    /// sent, and nginx would otherwise wait `client_body_timeout` (60 s) for the rest.
    var halfClose = false
    /// nginx may close the connection without an answer (a client that half-closed mid-body gets none).
    var mayCloseWithoutAnswer = false
    /// A HEAD request: the answer has no body.
    var isHead = false
}

/// Builds the bad requests, deterministically from `FuzzRandom(seed:index:)`.
///
/// Each class starts from a valid order, or from a request that already fails for a known reason, and changes
/// it in a way that cannot make it valid again (an unbalanced bracket, a strict prefix, a value out of range),
/// so the property "every answer is a 4xx" holds by construction and a 2xx is a real finding.
enum HTTPFuzzGenerator {
    static func make(seed: UInt64, index: Int) -> HTTPFuzzCase {
        var random = FuzzRandom(seed: seed, index: index)
        let kind = HTTPFuzzClass.allCases[random.int(0..<HTTPFuzzClass.allCases.count)]
        var made: HTTPFuzzCase
        switch kind {
        case .malformedJSON: made = malformedJSON(&random)
        case .truncatedJSON: made = truncatedJSON(&random)
        case .deepNesting: made = deepNesting(&random)
        case .hugeNumbers: made = hugeNumbers(&random)
        case .hugeStrings: made = hugeStrings(&random)
        case .invalidUTF8: made = invalidUTF8(&random)
        case .wrongTypes: made = wrongTypes(&random)
        case .contentTypes: made = contentTypes(&random)
        case .oversizedBodies: made = oversizedBodies(&random)
        case .lyingLength: made = lyingLength(&random)
        case .methodsAndPaths: made = methodsAndPaths(&random)
        case .headerAbuse: made = headerAbuse(&random)
        case .idempotencyKeys: made = idempotencyKeys(&random)
        }
        made.index = index
        made.kind = kind
        return made
    }

    // MARK: - Building blocks

    /// The parts of a valid order as raw JSON; `nil` leaves a field out.
    struct Order {
        var phone: String? = #""+8613800138000""#
        var email: String? = #""li@example.com""#
        var currency: String? = #""CNY""#
        var sku: String? = #""SKU-1""#
        var quantity: String? = "2"
        var price: String? = "1299"
        var items: String? = nil
        var itemCount = 1
        var note: String? = #""fuzz""#
        var customer: String? = nil
        var extra: String? = nil

        var json: String {
            func member(_ name: String, _ value: String?) -> String? { value.map { "\"\(name)\":\($0)" } }
            let customerJSON = customer ?? "{" + [member("phone", phone), member("email", email)].compactMap { $0 }.joined(separator: ",") + "}"
            let item = "{" + [member("sku", sku), member("quantity", quantity), member("unit_price_cents", price)].compactMap { $0 }.joined(separator: ",") + "}"
            let itemsJSON = items ?? "[" + Array(repeating: item, count: itemCount).joined(separator: ",") + "]"
            let members = [member("customer", customerJSON), member("currency", currency), member("items", itemsJSON), member("note", note)]
                .compactMap { $0 } + (extra.map { [$0] } ?? [])
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    /// A valid order with some variety (note, item count), no whitespace: any strict prefix is invalid JSON.
    static func validOrder(_ random: inout FuzzRandom) -> Order {
        var order = Order()
        order.itemCount = random.int(1...4)
        order.note = random.chance(0.2) ? nil : "\"" + String(decoding: random.bytes(random.int(0...40), from: Array("abc xyz-09éü漢".utf8).filter { $0 < 0x80 }), as: UTF8.self) + "\""
        if random.chance(0.3) { order.note = #""leave at the door, 2nd floor: ring twice é漢""# }
        if random.chance(0.3) { order.email = nil }
        return order
    }

    static let host = "127.0.0.1"

    /// A request with a correct Content-Length for `body` (when given) unless `contentLength` overrides it.
    static func request(
        _ method: String = "POST", _ target: String = "/orders", version: String = "HTTP/1.1",
        headers: [(String, [UInt8])] = [("Content-Type", Array("application/json".utf8))],
        body: [UInt8]?, contentLength: String? = nil, close: Bool = false, host: Bool = true
    ) -> [UInt8] {
        var head = Array("\(method) \(target) \(version)\r\n".utf8)
        if host { head += Array("Host: \(Self.host)\r\n".utf8) }
        if close { head += Array("Connection: close\r\n".utf8) }
        for (name, value) in headers { head += Array(name.utf8) + Array(": ".utf8) + value + Array("\r\n".utf8) }
        if let contentLength {
            head += Array("Content-Length: \(contentLength)\r\n".utf8)
        } else if let body {
            head += Array("Content-Length: \(body.count)\r\n".utf8)
        }
        return head + Array("\r\n".utf8) + (body ?? [])
    }

    static func post(_ body: [UInt8], variant: String, extraHeaders: [(String, [UInt8])] = []) -> HTTPFuzzCase {
        HTTPFuzzCase(
            index: 0, kind: .malformedJSON, variant: variant,
            bytes: request(headers: [("Content-Type", Array("application/json".utf8))] + extraHeaders, body: body))
    }

    static func post(_ body: String, variant: String) -> HTTPFuzzCase { post(Array(body.utf8), variant: variant) }

    static let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    static let digits = Array("0123456789".utf8)

    /// Indices of structural characters outside strings, and of the quotes that open and close strings.
    static func structuralIndices(_ json: [UInt8]) -> (structural: [Int], quotes: [Int]) {
        var structural: [Int] = []
        var quotes: [Int] = []
        var inString = false
        var escaped = false
        for (index, byte) in json.enumerated() {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    quotes.append(index)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
                quotes.append(index)
            case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ","), UInt8(ascii: ":"):
                structural.append(index)
            default:
                break
            }
        }
        return (structural, quotes)
    }

    // MARK: - Classes

    static func malformedJSON(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        let valid = Array(validOrder(&random).json.utf8)
        let (structural, quotes) = structuralIndices(valid)
        switch random.int(0..<5) {
        case 0:
            // One bracket, quote or separator inserted next to a structural character: brackets no longer balance,
            // quotes no longer pair, or a separator stands where JSON allows none (no elisions, no trailing commas).
            var body = valid
            let anchor = random.pick(structural)
            let at = random.chance(0.5) ? anchor : anchor + 1
            body.insert(random.pick(Array("{}[]\",:".utf8)), at: at)
            return post(body, variant: "insert")
        case 1:
            // One structural character or string delimiter removed.
            var body = valid
            body.remove(at: random.pick(structural + quotes))
            return post(body, variant: "delete")
        case 2:
            // A valid order followed by something that is not whitespace.
            let tail = random.pick(["x", "{}", ",", "]", "}", "\u{0}", "null", "\"", "[1]", "/*c*/"])
            return post(valid + Array(tail.utf8), variant: "trailing")
        case 3:
            let order = validOrder(&random)
            let json = order.json
            let broken: String
            switch random.int(0..<10) {
            case 0: broken = json.replacingOccurrences(of: "\"", with: "'")
            case 1: broken = json.replacingOccurrences(of: "\"customer\"", with: "customer")
            case 2: broken = "{/* comment */" + json.dropFirst()
            case 3:
                var bad = order
                bad.quantity = random.pick(["NaN", "Infinity", "-Infinity", "+1", "01", ".5", "1.", "0x1F", "1e", "-", "1_000", "2 2"])
                broken = bad.json
            case 4:
                var bad = order
                bad.note = random.pick(["tru", "nul", "True", "NULL", "undefined", "fals", "'x'", "\"\\x41\"", "\"\\u12\"", "\"\\u00G0\"", "\"\\\"", "\"abc"])
                broken = bad.json
            case 5: broken = #"{"currency":"EUR","# + json.dropFirst()  // duplicate key
            case 6: broken = String(repeating: " ", count: random.int(1...20))
            case 7: broken = ""
            case 8:
                var bad = order
                bad.note = "\"a" + String(UnicodeScalar(UInt8(random.int(0...0x1F)))) + "b\""  // raw control character
                broken = bad.json
            default: broken = "{\"customer\":{\"phone\":\"+8613800138000\"}\"currency\":\"CNY\"}"
            }
            return post(broken, variant: "token")
        default:
            // Random bytes: no chance of being a valid order.
            return post(random.randomBytes(random.skewedLength(1, 2000)), variant: "random-bytes")
        }
    }

    static func truncatedJSON(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        let valid = Array(validOrder(&random).json.utf8)
        // A strict prefix of a JSON object without trailing whitespace is never complete; 0 bytes is an empty body.
        let cut = random.chance(0.05) ? 0 : random.int(1..<valid.count)
        return post(Array(valid.prefix(cut)), variant: cut == 0 ? "empty" : "prefix")
    }

    static func deepNesting(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        let depth = random.pick([random.int(1...32), random.int(33...64), random.int(65...2000), random.int(2000...30000)])
        switch random.int(0..<5) {
        case 0:
            // A whole body of arrays: not an object, or too deep.
            return post(String(repeating: "[", count: depth) + String(repeating: "]", count: depth), variant: "arrays")
        case 1:
            return post(String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth), variant: "objects")
        case 2:
            var order = validOrder(&random)
            order.note = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            return post(order.json, variant: "in-note")
        case 3:
            var order = validOrder(&random)
            order.extra = "\"deep\":" + String(repeating: "{\"x\":", count: depth) + "null" + String(repeating: "}", count: depth)
            return post(order.json, variant: "extra-field")
        default:
            return post(String(repeating: random.pick(["[", "{\"a\":", "[{\"b\":"]), count: depth), variant: "unclosed")
        }
    }

    static func hugeNumbers(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        var order = validOrder(&random)
        func longDigits(_ random: inout FuzzRandom) -> String {
            String(decoding: [UInt8(ascii: "1")] + random.bytes(random.skewedLength(19, 60000), from: digits), as: UTF8.self)
        }
        let badQuantities = ["0", "-1", "1001", "-0", "2.5", "2.0", "1e3", "1E2", "1e400", "-1e400", "1E+999999999", "0.0000001",
                             "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616"]
        let badPrices = ["-1", "1000000000001", "12.99", "1299.0", "1e3", "1e30", "-1e400", "9223372036854775807",
                         "9223372036854775808", "-9223372036854775809", "18446744073709551616", "1E+999999999"]
        switch random.int(0..<5) {
        case 0: order.quantity = random.pick(badQuantities)
        case 1: order.price = random.pick(badPrices)
        case 2: order.quantity = (random.chance(0.5) ? "-" : "") + longDigits(&random)
        case 3: order.price = (random.chance(0.5) ? "-" : "") + longDigits(&random)
        default:
            // Every item valid, the total not: 10 to 100 items of 1000 x 10^12 cents (over 10^15, and 10^17
            // overflows nothing but is refused).
            order.quantity = "1000"
            order.price = "1000000000000"
            order.itemCount = random.int(10...100)
            return post(order.json, variant: "total-too-large")
        }
        return post(order.json, variant: "field")
    }

    static func hugeStrings(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        var order = validOrder(&random)
        let ascii = Array("abcdefghij KLMNOP-_.0123".utf8)
        func text(_ count: Int, _ random: inout FuzzRandom) -> String { String(decoding: random.bytes(count, from: ascii), as: UTF8.self) }
        switch random.int(0..<7) {
        case 0: order.note = "\"" + text(random.skewedLength(501, 66000), &random) + "\""
        case 1: order.note = "\"" + String(repeating: random.pick(["é", "漢", "😀"]), count: random.skewedLength(501, 16000)) + "\""
        case 2: order.sku = "\"" + String(decoding: random.bytes(random.skewedLength(65, 66000), from: letters), as: UTF8.self) + "\""
        case 3: order.phone = "\"+" + String(decoding: random.bytes(random.skewedLength(16, 66000), from: digits), as: UTF8.self) + "\""
        case 4: order.email = "\"" + String(decoding: random.bytes(random.skewedLength(250, 66000), from: letters), as: UTF8.self) + "@example.com\""
        case 5: order.currency = "\"" + String(decoding: random.bytes(random.skewedLength(4, 66000), from: letters), as: UTF8.self) + "\""
        default: order.extra = "\"" + String(decoding: random.bytes(random.skewedLength(1, 66000), from: letters), as: UTF8.self) + "\":1"
        }
        return post(order.json, variant: "field")
    }

    static func invalidUTF8(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        let sequences: [[UInt8]] = [
            [0xFF], [0xFE], [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xC3], [0xE2, 0x82], [0xE0, 0x80, 0x80],
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],
            [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFC, 0x84, 0x80, 0x80, 0x80, 0x80], [0xF0, 0x80, 0x80, 0xAF],
        ]
        let bad = random.pick(sequences)
        var order = validOrder(&random)
        let marker = "\u{1}MARK\u{1}"
        switch random.int(0..<4) {
        case 0: order.note = "\"before" + marker + "after\""
        case 1: order.sku = "\"SKU" + marker + "\""
        case 2: order.extra = "\"k" + marker + "\":1"
        default:
            // Outside any string.
            var body = Array(order.json.utf8)
            body.insert(contentsOf: bad, at: random.pick(structuralIndices(body).structural))
            return post(body, variant: "outside-string")
        }
        var body: [UInt8] = []
        let parts = order.json.components(separatedBy: marker)
        body = Array(parts[0].utf8) + bad + Array(parts[1].utf8)
        return post(body, variant: "in-string")
    }

    static func wrongTypes(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        var order = validOrder(&random)
        switch random.int(0..<12) {
        case 0: order.customer = random.pick(["\"x\"", "1", "[]", "null", "true", "[{\"phone\":\"+8613800138000\"}]"])
        case 1: order.phone = random.pick(["8613800138000", "null", "[]", "{}", "true", "[\"+8613800138000\"]"])
        case 2: order.email = random.pick(["1", "[]", "{}", "true", "[\"li@example.com\"]"])
        case 3: order.currency = random.pick(["1", "null", "[]", "{}", "false", "[\"CNY\"]", "156"])
        case 4: order.items = random.pick(["{}", "\"x\"", "1", "null", "[]", "[1]", "[\"x\"]", "[null]", "[[]]", "true"])
        case 5: order.sku = random.pick(["1", "null", "[]", "{}", "true"])
        case 6: order.quantity = random.pick(["\"2\"", "null", "[]", "{}", "true", "[2]"])
        case 7: order.price = random.pick(["\"1299\"", "null", "[]", "{}", "false", "[1299]"])
        case 8: order.note = random.pick(["1", "[]", "{}", "true", "[\"fuzz\"]"])
        case 9:
            // A required field missing.
            switch random.int(0..<5) {
            case 0: order.phone = nil
            case 1: order.currency = nil
            case 2: order.items = ""; return post(order.json.replacingOccurrences(of: ",\"items\":", with: ""), variant: "missing")
            case 3: order.sku = nil
            default: order.quantity = nil
            }
        case 10:
            order.extra = "\"" + random.pick(["id", "status", "total_cents", "created_at", "Customer", "extra", "__proto__"]) + "\":" + random.pick(["1", "null", "\"x\"", "{}"])
        default:
            return post(random.pick(["[]", "\"order\"", "42", "null", "true", "{}", "[{}]", "-0", "\"\""]), variant: "not-an-object")
        }
        return post(order.json, variant: "field")
    }

    static func contentTypes(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        let body = Array(validOrder(&random).json.utf8)
        let types = [
            "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp",
            "application/json; charset=iso-8859-1", "application/json; charset=\"utf-16\"", "application/json; charset=latin1",
            "application/xml", "*/*", "application/ json", "application", "json", "text/json",
            "application/json-patch+json", "application/problem+json", "application/json; foo", "application/json, text/plain",
            "application/vnd.api+json", "application/octet-stream", "application/json\u{1}",
        ]
        switch random.int(0..<4) {
        case 0:
            return HTTPFuzzCase(index: 0, kind: .contentTypes, variant: "missing", bytes: request(headers: [], body: body))
        case 1:
            // Both wrong; nginx passes the first as CONTENT_TYPE.
            let headers = [("Content-Type", Array(random.pick(types).utf8)), ("Content-Type", Array(random.pick(types).utf8))]
            return HTTPFuzzCase(index: 0, kind: .contentTypes, variant: "two-wrong", bytes: request(headers: headers, body: body))
        case 2:
            return HTTPFuzzCase(index: 0, kind: .contentTypes, variant: "empty", bytes: request(headers: [("Content-Type", [])], body: body))
        default:
            return HTTPFuzzCase(index: 0, kind: .contentTypes, variant: "wrong", bytes: request(headers: [("Content-Type", Array(random.pick(types).utf8))], body: body))
        }
    }

    /// Answers: nginx 413 (`client_max_body_size 64k`, JSON via @orderd_413) for a declared or chunked body over
    /// 64 KiB; nginx 400 for a Content-Length that overflows; orderd 400 for a body of exactly 64 KiB that is
    /// not JSON.
    static func oversizedBodies(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        let limit = 65536
        switch random.int(0..<4) {
        case 0:
            let size = random.int((limit + 1)...(limit + 40000))
            var made = HTTPFuzzCase(index: 0, kind: .oversizedBodies, variant: "declared-and-sent",
                                    bytes: request(body: Array(repeating: UInt8(ascii: "["), count: size), close: true))
            made.keepAlive = false
            return made
        case 1:
            let length = random.pick(["65537", "1000000", "2147483648", "99999999999", "999999999999999999"])
            var made = HTTPFuzzCase(index: 0, kind: .oversizedBodies, variant: "declared-only",
                                    bytes: request(body: nil, contentLength: length, close: true))
            made.keepAlive = false
            return made
        case 2:
            // Chunked, over the limit in total; nginx counts as it reads.
            var body: [UInt8] = []
            var total = 0
            while total <= limit {
                let size = random.int(1000...16000)
                body += Array("\(String(size, radix: 16))\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: size) + Array("\r\n".utf8)
                total += size
            }
            body += Array("0\r\n\r\n".utf8)
            var head = Array("POST /orders HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            head += body
            var made = HTTPFuzzCase(index: 0, kind: .oversizedBodies, variant: "chunked", bytes: head)
            made.keepAlive = false
            return made
        default:
            var body = Array(repeating: UInt8(ascii: " "), count: limit)
            body[0] = UInt8(ascii: "{")
            return post(body, variant: "exactly-64k")
        }
    }

    static func lyingLength(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        let body = Array(validOrder(&random).json.utf8)
        switch random.int(0..<4) {
        case 0:
            // Declares fewer bytes than sent: orderd gets a strict prefix (invalid JSON, or an empty body); nginx
            // never reads the rest as a request because the connection closes after the answer.
            let declared = random.int(0..<body.count)
            var made = HTTPFuzzCase(index: 0, kind: .lyingLength, variant: "shorter",
                                    bytes: request(body: body, contentLength: String(declared), close: true))
            made.keepAlive = false
            return made
        case 1:
            // Declares more than sent, then the client half-closes: nginx answers 400 or just closes.
            let declared = body.count + random.int(1...4096)
            let sent = random.chance(0.3) ? Array(body.prefix(random.int(0...body.count))) : body
            var made = HTTPFuzzCase(index: 0, kind: .lyingLength, variant: "longer",
                                    bytes: request(body: sent, contentLength: String(declared), close: true))
            made.keepAlive = false
            made.halfClose = true
            made.mayCloseWithoutAnswer = true
            return made
        case 2:
            // Not a length nginx accepts: 400 from nginx.
            let lengths = ["-1", "abc", "1 2", "+5", "0x10", "5,5", "", " ", "12a", "99999999999999999999999"]
            let length = random.pick(lengths)
            var made = HTTPFuzzCase(index: 0, kind: .lyingLength, variant: "unparsable",
                                    bytes: request(body: body, contentLength: length, close: true))
            if random.chance(0.3) {
                made.bytes = request(headers: [("Content-Type", Array("application/json".utf8)), ("Content-Length", Array(String(body.count).utf8))],
                                     body: body, contentLength: String(body.count + random.int(0...3)), close: true)
                made.variant = "duplicate"
            }
            made.keepAlive = false
            return made
        default:
            // Chunked framing that lies: a size larger than what follows, or Content-Length with chunked
            // (nginx 400), or a bad size line; the client half-closes.
            let variants = [
                "Transfer-Encoding: chunked\r\n\r\n" + String(body.count + 10, radix: 16) + "\r\n" + String(decoding: body, as: UTF8.self) + "\r\n0\r\n\r\n",
                "Transfer-Encoding: chunked\r\nContent-Length: \(body.count)\r\n\r\n" + String(body.count, radix: 16) + "\r\n" + String(decoding: body, as: UTF8.self) + "\r\n0\r\n\r\n",
                "Transfer-Encoding: chunked\r\n\r\nzz\r\n" + String(decoding: body, as: UTF8.self) + "\r\n0\r\n\r\n",
                "Transfer-Encoding: chunked\r\n\r\n" + String(body.count, radix: 16) + "\r\n" + String(decoding: body, as: UTF8.self),
            ]
            let tail = random.pick(variants)
            var made = HTTPFuzzCase(index: 0, kind: .lyingLength, variant: "chunked",
                                    bytes: Array("POST /orders HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\nContent-Type: application/json\r\n\(tail)".utf8))
            made.keepAlive = false
            made.halfClose = true
            made.mayCloseWithoutAnswer = true
            return made
        }
    }

    /// orderd 404/405 for routes, nginx 400 for methods it cannot parse and paths it refuses (`%00`, `..` above
    /// the root), nginx 405 for TRACE, nginx 414 for a request line over `large_client_header_buffers` (8k).
    /// Unknown Transfer-Encodings and HTTP/2+ versions are left out: nginx answers those 501/505 by design
    /// (BadRequestTests covers them), and this property is "never a 5xx".
    static func methodsAndPaths(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        let getPaths = ["/healthz", "/stats", "/status", "/metrics"]
        let unknownPaths = [
            "/", "/order", "/orders/", "/orders//", "/orders/x/y", "/healthz/", "//healthz", "/./healthz", "/HEALTHZ",
            "/healthz%20", "/%68ealthz", "/orders/../healthz", "/nope", "/orders?", "/.orderd-errors/400", "/index.php",
            "/orders/00000000-0000-7000-8000-000000000000/items", "/metrics/", "/status.json", "/stats;x",
            "/orders/%2e%2e/healthz", "/orders/\u{7F}",
        ]
        let nginxRefused = ["/../etc/passwd", "/%00", "/orders/%00", "/a b", "*", "/x\u{1}y", "/%2", "/../../x"]
        let oddMethods = ["PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "MKCOL", "COPY", "MOVE", "LOCK", "FOO", "SEARCH",
                          "PURGE", "LINK", "X_Y", "A-B", String(repeating: "M", count: 32)]
        var method: String
        var target: String
        var close = random.chance(0.3)
        switch random.int(0..<8) {
        case 0:
            method = random.pick(["GET", "HEAD"] + oddMethods)
            target = random.pick(unknownPaths)
        case 1:
            method = random.pick(oddMethods + ["POST"])
            target = random.pick(getPaths)
        case 2:
            method = random.pick(oddMethods + ["GET", "HEAD"])
            target = "/orders"
        case 3:
            method = random.pick(["GET", "HEAD", "POST"] + oddMethods)
            target = "/orders/" + String(decoding: random.bytes(random.skewedLength(1, 3000), from: letters + digits + Array("-._~%!$&'()*+,;=:@".utf8)), as: UTF8.self)
            if method == "POST" || method == "GET" || method == "HEAD" { target = "/orders/fuzz-" + target.dropFirst(8) }
        case 4:
            method = random.pick(["get", "Get", "pOST", "G ET", "GET\u{1}", "\u{0}GET", "POST/", "(", "T=R"])
            target = random.pick(unknownPaths + getPaths)
            close = true
        case 5:
            method = random.pick(["GET", "POST", "DELETE"])
            target = random.pick(nginxRefused)
            close = true
        case 6:
            // Request line over 8 KiB: nginx 414.
            method = random.pick(["GET", "POST"])
            target = "/orders/" + String(repeating: "a", count: random.int(8200...30000))
            close = true
        default:
            method = "TRACE"
            target = random.pick(getPaths + unknownPaths + ["/orders"])
            close = true
        }
        var variant = "route"
        if random.chance(0.15) && !target.hasPrefix("*") {
            target = "http://\(host)" + target  // absolute-form: REQUEST_URI is still the path
            variant = "absolute-form"
        }
        var query = ""
        if random.chance(0.2) && !getPaths.contains(target) { query = "?" + random.pick(["x=1", "a=%00", "&&", "q=" + String(repeating: "z", count: 200)]) }
        let body: [UInt8]? = random.chance(0.3) ? Array("{\"x\":1}".utf8) : nil
        let version = random.pick(["HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0"])
        var made = HTTPFuzzCase(
            index: 0, kind: .methodsAndPaths, variant: variant,
            bytes: request(method, target + query, version: version, headers: body == nil ? [] : [("Content-Type", Array("application/json".utf8))],
                           body: body, close: close))
        made.keepAlive = !close && version == "HTTP/1.1"
        made.isHead = method == "HEAD"
        return made
    }

    /// A request already refused for its body or path, plus one abuse of the header block. nginx answers 400 for
    /// what it refuses (NUL in a value, a bad Host, a header line or the block over `large_client_header_buffers`
    /// 4 x 8k, sent as 400 by @494, a line without a colon); the rest reaches orderd, which refuses the base.
    static func headerAbuse(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        let bases: [(method: String, target: String, body: [UInt8]?)] = [
            ("POST", "/orders", Array("{\"customer\":".utf8)),
            ("POST", "/orders", Array("[]".utf8)),
            ("GET", "/nowhere", nil),
            ("DELETE", "/healthz", nil),
        ]
        let base = random.pick(bases)
        var headers: [(String, [UInt8])] = base.body == nil ? [] : [("Content-Type", Array("application/json".utf8))]
        var host = true
        var close = true
        var variant: String
        switch random.int(0..<11) {
        case 0:
            variant = "huge-value"
            headers.append(("X-Fuzz", random.bytes(random.int(8200...40000), from: letters)))
        case 1:
            variant = "many-headers"
            let count = random.pick([random.int(10...100), random.int(100...600), random.int(600...3000)])
            for n in 0..<count { headers.append(("X-Fuzz-\(n)", random.bytes(random.int(1...40), from: letters))) }
            close = false
        case 2:
            variant = "nul-in-value"
            headers.append(("X-Fuzz", Array("a".utf8) + [0] + Array("b".utf8)))
        case 3:
            variant = "ctl-in-value"
            headers.append(("X-Fuzz", [UInt8(ascii: "a"), random.pick([0x01, 0x07, 0x0B, 0x0C, 0x1B, 0x7F, 0xFF]), UInt8(ascii: "b")]))
            close = false
        case 4:
            variant = "odd-name"
            headers.append((random.pick(["X Fuzz", "X\u{1}Fuzz", "(x)", "X/Y", "x@y", "\u{7F}", "X-Fuzz ", "é"]), Array("1".utf8)))
        case 5:
            variant = "host"
            host = false
            switch random.int(0..<4) {
            case 0: break  // no Host on HTTP/1.1
            case 1: headers += [("Host", Array("a".utf8)), ("Host", Array("b".utf8))]
            case 2: headers.append(("Host", Array(random.pick(["a b", "..", "[::1", "x/y", "\u{1}", "a\\b"]).utf8)))
            default: headers.append(("Host", random.bytes(random.int(300...9000), from: letters)))
            }
        case 6:
            variant = "duplicates"
            for name in ["Content-Type", "Accept", "User-Agent", "Cookie", "X-Request-Id", "Content-Length"].shuffled(using: &random).prefix(random.int(1...3)) {
                let value: [UInt8] = name == "Content-Length" ? Array(String(base.body?.count ?? 0).utf8) : Array("dup".utf8)
                headers += [(name, value), (name, value)]
            }
        case 7:
            variant = "folded"
            headers.append(("X-Fuzz", Array("a\r\n  continued".utf8)))
        case 8:
            variant = "no-colon"
            return HTTPFuzzCase(index: 0, kind: .headerAbuse, variant: variant,
                                bytes: Array("\(base.method) \(base.target) HTTP/1.1\r\nHost: \(Self.host)\r\nConnection: close\r\nNoColonHere\r\n\r\n".utf8),
                                keepAlive: false)
        case 9:
            variant = "interim-and-proxy"
            headers += [("Expect", Array(random.pick(["100-continue", "fooo"]).utf8)), ("Proxy", Array("http://evil:1".utf8)),
                        ("Upgrade", Array("h2c".utf8)), ("X-Forwarded-For", Array("1.2.3.4".utf8)), ("REQUEST_ID", Array("forged".utf8))]
            close = false
        default:
            variant = "bare-lf"
            var bytes = request(base.method, base.target, headers: headers, body: base.body, close: true)
            if let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = bytes[..<end.lowerBound].filter { $0 != UInt8(ascii: "\r") }
                bytes = Array(head) + Array("\n\n".utf8) + Array(bytes[end.upperBound...])
            }
            return HTTPFuzzCase(index: 0, kind: .headerAbuse, variant: variant, bytes: bytes, keepAlive: false)
        }
        var made = HTTPFuzzCase(index: 0, kind: .headerAbuse, variant: variant,
                                bytes: request(base.method, base.target, headers: headers, body: base.body, close: close, host: host))
        made.keepAlive = !close
        return made
    }

    /// A valid order with an Idempotency-Key orderd refuses (400), or the suite's existing key with another body
    /// (409). nginx refuses a NUL (400) and a key line over 8k (400 via @494).
    static func idempotencyKeys(_ random: inout FuzzRandom) -> HTTPFuzzCase {
        var order = validOrder(&random)
        order.note = "\"idem-\(random.int(0...1_000_000))\""
        let body = Array(order.json.utf8)
        var headers: [(String, [UInt8])] = [("Content-Type", Array("application/json".utf8))]
        var variant = "bad-key"
        switch random.int(0..<9) {
        case 0: headers.append(("Idempotency-Key", []))
        case 1: headers.append(("Idempotency-Key", random.bytes(random.int(256...8000), from: letters)))
        case 2: headers.append(("Idempotency-Key", Array("key with space".utf8)))
        case 3: headers.append(("Idempotency-Key", [UInt8(ascii: "k"), random.pick([0x01, 0x09, 0x1F, 0x7F]), UInt8(ascii: "y")]))
        case 4: headers.append(("Idempotency-Key", Array("clé".utf8) + (random.chance(0.5) ? [0xFF] : [])))
        case 5:
            variant = "two-keys"
            headers += [("Idempotency-Key", Array("fuzz-a-\(random.int(0...999999))".utf8)), ("Idempotency-Key", Array("fuzz-b".utf8))]
        case 6:
            variant = "nul"
            headers.append(("Idempotency-Key", Array("ab".utf8) + [0] + Array("cd".utf8)))
        case 7:
            variant = "too-long-for-nginx"
            headers.append(("Idempotency-Key", random.bytes(random.int(9000...20000), from: letters)))
        default:
            variant = "reused-key"
            headers.append(("Idempotency-Key", Array(HTTPFuzzGenerator.existingKey.utf8)))
        }
        var made = HTTPFuzzCase(index: 0, kind: .idempotencyKeys, variant: variant, bytes: request(headers: headers, body: body))
        if variant == "nul" || variant == "too-long-for-nginx" {
            made.bytes = request(headers: headers, body: body, close: true)
            made.keepAlive = false
        }
        return made
    }

    /// The key of the one order the suite creates before fuzzing; reusing it with another body is a 409.
    static let existingKey = "fuzz-existing-key"
}
