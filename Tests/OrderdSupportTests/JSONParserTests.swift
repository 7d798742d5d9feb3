import Testing
import OrderdSupport

/// A parse that must fail: input bytes, expected reason and exact byte offset.
struct JSONErrorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let reason: JSONSyntaxError.Reason
    let offset: Int

    init(_ name: String, _ text: String, _ reason: JSONSyntaxError.Reason, _ offset: Int) {
        self.name = name
        self.bytes = Array(text.utf8)
        self.reason = reason
        self.offset = offset
    }

    init(_ name: String, bytes: [UInt8], _ reason: JSONSyntaxError.Reason, _ offset: Int) {
        self.name = name
        self.bytes = bytes
        self.reason = reason
        self.offset = offset
    }

    var testDescription: String { name }
}

/// A parse that must succeed.
struct JSONValueCase: Sendable, CustomTestStringConvertible {
    let text: String
    let expected: JSONValue
    init(_ text: String, _ expected: JSONValue) {
        self.text = text
        self.expected = expected
    }
    var testDescription: String { text }
}

private func num(_ value: Int64) -> JSONValue { .number(JSONNumber(value)) }

private func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

private func syntaxError(_ bytes: [UInt8], maxDepth: Int = JSONParser.defaultMaxDepth) -> JSONSyntaxError? {
    do {
        _ = try JSONParser.parse(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

@Suite struct JSONParserTests {
    // MARK: Happy paths

    static let valueCases: [JSONValueCase] = [
        JSONValueCase("null", .null),
        JSONValueCase("true", .bool(true)),
        JSONValueCase(" false ", .bool(false)),
        JSONValueCase("0", num(0)),
        JSONValueCase("-0", .number(JSONNumber(text: "-0", isIntegerLiteral: true, int64: 0))),
        JSONValueCase("42", num(42)),
        JSONValueCase("\"\"", .string("")),
        JSONValueCase("\"héllo 中文 😀\"", .string("héllo 中文 😀")),
        JSONValueCase(#""a\"b\\c\/d\b\f\n\r\t""#, .string("a\"b\\c/d\u{8}\u{C}\n\r\t")),
        JSONValueCase(#""\u0041\u00e9\u4E2D""#, .string("Aé中")),
        JSONValueCase(#""\uD83D\uDE00""#, .string("😀")),
        JSONValueCase(#""x\u0000y""#, .string("x\u{0}y")),
        JSONValueCase("[]", .array([])),
        JSONValueCase(" [ 1 , [ ] , { } ] ", .array([num(1), .array([]), .object([])])),
        JSONValueCase("{}", .object([])),
        JSONValueCase("\t\r\n{\"b\":1,\"a\":[true,null]}\n", .object([(key: "b", value: num(1)), (key: "a", value: .array([.bool(true), .null]))])),
        JSONValueCase(#"{"a":{"a":{"a":1}}}"#, .object([(key: "a", value: .object([(key: "a", value: .object([(key: "a", value: num(1))]))]))])),
        JSONValueCase(#"{"A":1,"a":2}"#, .object([(key: "A", value: num(1)), (key: "a", value: num(2))])),
    ]

    @Test(arguments: valueCases)
    func parsesValue(_ testCase: JSONValueCase) throws {
        #expect(try parse(testCase.text) == testCase.expected)
    }

    @Test func parsesAnOrderBody() throws {
        let body = #"{"customer":{"phone":"+8613800138000","email":"li@example.com"},"currency":"CNY","items":[{"sku":"SKU-1","quantity":2,"unit_price_cents":1299}],"note":"门口放下"}"#
        let value = try parse(body)
        #expect(value["currency"] == .string("CNY"))
        #expect(value["customer"]?["phone"] == .string("+8613800138000"))
        #expect(value["note"] == .string("门口放下"))
        guard case .array(let items)? = value["items"] else { Issue.record("items is not an array"); return }
        #expect(items.count == 1)
        #expect(items[0]["quantity"] == num(2))
        #expect(items[0]["unit_price_cents"] == num(1299))
    }

    @Test func parsesFromARawBuffer() throws {
        let bytes = Array(#"[1,"two"]"#.utf8)
        let value = try bytes.withUnsafeBytes { buffer in try JSONParser.parse(buffer) }
        #expect(value == .array([num(1), .string("two")]))
    }

    @Test func keepsObjectMembersInDocumentOrder() throws {
        guard case .object(let members) = try parse(#"{"z":1,"y":2,"x":3}"#) else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == ["z", "y", "x"])
    }

    @Test func acceptsNestingUpToTheLimit() throws {
        let text = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        _ = try parse(text)
        let objects = String(repeating: #"{"a":"#, count: 32) + "1" + String(repeating: "}", count: 32)
        _ = try parse(objects)
    }

    @Test func manyKeysUseTheSetPathAndStillFindDuplicates() throws {
        let keys = (0..<40).map { "\"k\($0)\":\($0)" }
        guard case .object(let members) = try parse("{" + keys.joined(separator: ",") + "}") else {
            Issue.record("not an object"); return
        }
        #expect(members.count == 40)
        let body = "{" + keys.joined(separator: ",") + #","k33":0}"#
        let error = syntaxError(Array(body.utf8))
        #expect(error?.reason == .duplicateKey)
        #expect(error?.offset == body.utf8.count - 8)
        #expect(error?.message == #"duplicate key "k33" in object"#)
    }

    // MARK: Numbers

    struct NumberCase: Sendable, CustomTestStringConvertible {
        let text: String
        let isIntegerLiteral: Bool
        let int64: Int64?
        var testDescription: String { text }
    }

    static let numberCases: [NumberCase] = [
        NumberCase(text: "0", isIntegerLiteral: true, int64: 0),
        NumberCase(text: "-0", isIntegerLiteral: true, int64: 0),
        NumberCase(text: "1299", isIntegerLiteral: true, int64: 1299),
        NumberCase(text: "-17", isIntegerLiteral: true, int64: -17),
        NumberCase(text: "9223372036854775807", isIntegerLiteral: true, int64: .max),
        NumberCase(text: "-9223372036854775808", isIntegerLiteral: true, int64: .min),
        NumberCase(text: "9223372036854775808", isIntegerLiteral: true, int64: nil),
        NumberCase(text: "-9223372036854775809", isIntegerLiteral: true, int64: nil),
        NumberCase(text: "99999999999999999999", isIntegerLiteral: true, int64: nil),
        NumberCase(text: "1e3", isIntegerLiteral: false, int64: nil),
        NumberCase(text: "1E+3", isIntegerLiteral: false, int64: nil),
        NumberCase(text: "2.0", isIntegerLiteral: false, int64: nil),
        NumberCase(text: "1299.5", isIntegerLiteral: false, int64: nil),
        NumberCase(text: "-0.0e-0", isIntegerLiteral: false, int64: nil),
        NumberCase(text: "1e400", isIntegerLiteral: false, int64: nil),
        NumberCase(text: "0.1234567890123456789012345", isIntegerLiteral: false, int64: nil),
    ]

    @Test(arguments: numberCases)
    func numberKeepsTextAndExactInteger(_ testCase: NumberCase) throws {
        guard case .number(let number) = try parse(testCase.text) else { Issue.record("not a number"); return }
        #expect(number.text == testCase.text)
        #expect(number.isIntegerLiteral == testCase.isIntegerLiteral)
        #expect(number.int64 == testCase.int64)
        #expect(number.isOutOfInt64Range == (testCase.isIntegerLiteral && testCase.int64 == nil))
    }

    // MARK: Errors

    static let errorCases: [JSONErrorCase] = [
        // Empty and framing
        JSONErrorCase("empty body", "", .emptyBody, 0),
        JSONErrorCase("only whitespace", " \n\t", .emptyBody, 3),
        JSONErrorCase("byte order mark", bytes: [0xEF, 0xBB, 0xBF] + Array("{}".utf8), .byteOrderMark, 0),
        JSONErrorCase("trailing garbage", #"{"a":1} x"#, .trailingData, 8),
        JSONErrorCase("second value", "[1]]", .trailingData, 3),
        JSONErrorCase("two documents", "{} {}", .trailingData, 3),
        JSONErrorCase("trailing NUL", bytes: Array(#"{"a":1}"#.utf8) + [0], .trailingData, 7),
        JSONErrorCase("number then letters", "123abc", .trailingData, 3),
        // Truncation
        JSONErrorCase("truncated object", #"{"a":1"#, .unexpectedEndOfInput, 6),
        JSONErrorCase("truncated after colon", #"{"a":"#, .unexpectedEndOfInput, 5),
        JSONErrorCase("truncated after key", #"{"a""#, .unexpectedEndOfInput, 4),
        JSONErrorCase("truncated array", "[1,2", .unexpectedEndOfInput, 4),
        JSONErrorCase("truncated literal", "tru", .unexpectedEndOfInput, 3),
        JSONErrorCase("lone minus", "-", .unexpectedEndOfInput, 1),
        JSONErrorCase("truncated fraction", "1.", .unexpectedEndOfInput, 2),
        JSONErrorCase("truncated exponent", "1e+", .unexpectedEndOfInput, 3),
        JSONErrorCase("unterminated string", #""abc"#, .unterminatedString, 4),
        JSONErrorCase("unterminated string value", #"{"a":"b}"#, .unterminatedString, 8),
        JSONErrorCase("unterminated after backslash", #""ab\"#, .unterminatedString, 4),
        JSONErrorCase("unterminated in \\u", #""\u12"#, .unterminatedString, 5),
        JSONErrorCase("unterminated after high surrogate", #""\uD800"#, .unterminatedString, 7),
        // Unexpected characters
        JSONErrorCase("plus sign", "+1", .unexpectedCharacter, 0),
        JSONErrorCase("leading dot", ".5", .unexpectedCharacter, 0),
        JSONErrorCase("NaN", "NaN", .unexpectedCharacter, 0),
        JSONErrorCase("Infinity", "[Infinity]", .unexpectedCharacter, 1),
        JSONErrorCase("single quotes", "'a'", .unexpectedCharacter, 0),
        JSONErrorCase("bad literal", "trux", .unexpectedCharacter, 3),
        JSONErrorCase("capitalised literal", "True", .unexpectedCharacter, 0),
        JSONErrorCase("unquoted key", "{a:1}", .unexpectedCharacter, 1),
        JSONErrorCase("missing colon", #"{"a" 1}"#, .unexpectedCharacter, 5),
        JSONErrorCase("missing comma", "[1 2]", .unexpectedCharacter, 3),
        JSONErrorCase("trailing comma in array", "[1,]", .unexpectedCharacter, 3),
        JSONErrorCase("trailing comma in object", #"{"a":1,}"#, .unexpectedCharacter, 7),
        JSONErrorCase("comment", "// no", .unexpectedCharacter, 0),
        JSONErrorCase("form feed is not whitespace", "\u{C}1", .unexpectedCharacter, 0),
        JSONErrorCase("non-ASCII outside strings", "[é]", .unexpectedCharacter, 1),
        JSONErrorCase("non-breaking space", "[1,\u{A0}2]", .unexpectedCharacter, 3),
        // Numbers
        JSONErrorCase("leading zero", "01", .invalidNumber, 1),
        JSONErrorCase("negative leading zero", "[-012]", .invalidNumber, 3),
        JSONErrorCase("minus without digit", "-a", .invalidNumber, 1),
        JSONErrorCase("fraction without digit", "[1.]", .invalidNumber, 3),
        JSONErrorCase("exponent without digit", "[1e]", .invalidNumber, 3),
        JSONErrorCase("hex number", "0x1F", .trailingData, 1),
        // Strings
        JSONErrorCase("raw NUL in string", bytes: [0x22, 0x61, 0x00, 0x62, 0x22], .controlCharacterInString, 2),
        JSONErrorCase("raw newline in string", "\"a\nb\"", .controlCharacterInString, 2),
        JSONErrorCase("raw tab in string", "[\"\t\"]", .controlCharacterInString, 2),
        JSONErrorCase("raw control after escape", "\"\\n\u{1}\"", .controlCharacterInString, 3),
        JSONErrorCase("unknown escape", #""\x""#, .invalidEscape, 1),
        JSONErrorCase("escaped single quote", #""it\'s""#, .invalidEscape, 3),
        JSONErrorCase("bad hex in \\u", #""\u12G4""#, .invalidEscape, 1),
        JSONErrorCase("uppercase \\U", #""\U0041""#, .invalidEscape, 1),
        JSONErrorCase("lone high surrogate", #""\uD800""#, .loneSurrogate, 1),
        JSONErrorCase("lone low surrogate", #""\uDC00""#, .loneSurrogate, 1),
        JSONErrorCase("high surrogate then non-surrogate", #""ab\uD83D\u0041""#, .loneSurrogate, 3),
        JSONErrorCase("high surrogate then text", #""\uD83Dx""#, .loneSurrogate, 1),
        JSONErrorCase("high surrogate then other escape", #""\uD83D\n""#, .loneSurrogate, 1),
        JSONErrorCase("two high surrogates", #""\uD83D\uD83D""#, .loneSurrogate, 1),
        // UTF-8
        JSONErrorCase("0xFF in string", bytes: [0x22, 0x61, 0xFF, 0x62, 0x22], .invalidUTF8, 2),
        JSONErrorCase("stray continuation byte", bytes: [0x22, 0x80, 0x22], .invalidUTF8, 1),
        JSONErrorCase("overlong slash", bytes: [0x22, 0xC0, 0xAF, 0x22], .invalidUTF8, 1),
        JSONErrorCase("overlong 3-byte", bytes: [0x22, 0xE0, 0x80, 0xAF, 0x22], .invalidUTF8, 1),
        JSONErrorCase("UTF-8 encoded surrogate", bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], .invalidUTF8, 1),
        JSONErrorCase("above U+10FFFF", bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], .invalidUTF8, 1),
        JSONErrorCase("0xF5 lead byte", bytes: [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], .invalidUTF8, 1),
        JSONErrorCase("truncated sequence before quote", bytes: [0x22, 0x41, 0xE4, 0xB8, 0x22], .invalidUTF8, 2),
        JSONErrorCase("truncated sequence at end", bytes: [0x22, 0xE4, 0xB8], .invalidUTF8, 1),
        JSONErrorCase("invalid UTF-8 after valid", bytes: Array("\"中".utf8) + [0xC3, 0x28, 0x22], .invalidUTF8, 4),
        JSONErrorCase("invalid UTF-8 outside string", bytes: [0x5B, 0xFF, 0x5D], .invalidUTF8, 1),
        JSONErrorCase("invalid UTF-8 after backslash", bytes: [0x22, 0x5C, 0xFF, 0x22], .invalidUTF8, 2),
        JSONErrorCase("invalid UTF-8 in key", bytes: Array(#"{"k"#.utf8) + [0xFE] + Array(#"":1}"#.utf8), .invalidUTF8, 3),
        JSONErrorCase("invalid UTF-8 in escaped string", bytes: Array(#""\n"#.utf8) + [0xFF, 0x22], .invalidUTF8, 3),
        // Duplicates
        JSONErrorCase("duplicate key", #"{"a":1,"a":2}"#, .duplicateKey, 7),
        JSONErrorCase("duplicate key after escape", #"{"a":1,"\u0061":2}"#, .duplicateKey, 7),
        JSONErrorCase("duplicate key nested", #"{"x":{"b":1, "c":2, "b":3}}"#, .duplicateKey, 20),
        JSONErrorCase("duplicate key, NFC and NFD spellings", #"{"é":1,"e\u0301":2}"#, .duplicateKey, 8),
        JSONErrorCase("duplicate key in array element", #"[{}, {"sku":"a","sku":"b"}]"#, .duplicateKey, 16),
        // Depth
        JSONErrorCase("10 000 brackets", String(repeating: "[", count: 10_000), .nestingTooDeep, 32),
        JSONErrorCase("33 nested objects", String(repeating: #"{"a":"#, count: 33) + "1" + String(repeating: "}", count: 33), .nestingTooDeep, 160),
        JSONErrorCase("deep mixed", String(repeating: #"[{"a":"#, count: 17), .nestingTooDeep, 96),
    ]

    @Test(arguments: errorCases)
    func rejectsWithExactOffset(_ testCase: JSONErrorCase) {
        let error = syntaxError(testCase.bytes)
        #expect(error?.reason == testCase.reason, "\(String(describing: error))")
        #expect(error?.offset == testCase.offset, "\(String(describing: error))")
        #expect(error?.message.isEmpty == false)
    }

    @Test func hasAtLeastTwentyFiveErrorCases() {
        #expect(Self.errorCases.count >= 25)
        #expect(Set(Self.errorCases.map(\.reason)) == Set(JSONSyntaxError.Reason.allCases))
    }

    @Test func maxDepthIsConfigurable() {
        #expect(syntaxError(Array("[[1]]".utf8), maxDepth: 2) == nil)
        let error = syntaxError(Array("[[[1]]]".utf8), maxDepth: 2)
        #expect(error?.reason == .nestingTooDeep)
        #expect(error?.offset == 2)
        #expect(error?.message == "arrays and objects are nested deeper than 2 levels")
    }

    // MARK: Messages

    struct MessageCase: Sendable, CustomTestStringConvertible {
        let bytes: [UInt8]
        let message: String
        var testDescription: String { message }
    }

    static let messageCases: [MessageCase] = [
        MessageCase(bytes: [], message: "the body is empty"),
        MessageCase(bytes: Array(#"{"a":1,"a":2}"#.utf8), message: #"duplicate key "a" in object"#),
        MessageCase(bytes: [0x22, 0x00, 0x22], message: "raw NUL byte in string (control characters must be escaped)"),
        MessageCase(bytes: Array("\"\n\"".utf8), message: "raw control character U+000A in string (control characters must be escaped)"),
        MessageCase(bytes: [0x22, 0xFF, 0x22], message: "invalid UTF-8 sequence starting with byte 0xFF"),
        MessageCase(bytes: Array(#"{"a":1} x"#.utf8), message: "unexpected character 'x' after the JSON value"),
        MessageCase(bytes: Array(#"{"a":1"#.utf8), message: "unexpected end of input, expected ',' or '}'"),
        MessageCase(bytes: Array("[é]".utf8), message: "unexpected character U+00E9, expected a value"),
        MessageCase(bytes: Array(#""\x""#.utf8), message: #"invalid escape '\x' in string"#),
        MessageCase(bytes: Array(#""\uDC00""#.utf8), message: #"\u escape of lone surrogate U+DC00 in string"#),
        MessageCase(bytes: Array("01".utf8), message: "a number must not have leading zeros"),
        MessageCase(bytes: Array(#""abc"#.utf8), message: "unterminated string (opened at byte 0)"),
        MessageCase(bytes: [0xEF, 0xBB, 0xBF, 0x31], message: "a byte order mark (U+FEFF) is not allowed before the JSON value"),
    ]

    @Test(arguments: messageCases)
    func messageIsClear(_ testCase: MessageCase) {
        #expect(syntaxError(testCase.bytes)?.message == testCase.message)
    }

    @Test func descriptionCarriesTheOffset() {
        let error = syntaxError(Array(#"{"a":1,"a":2}"#.utf8))
        #expect(error?.description == #"duplicate key "a" in object at byte offset 7"#)
    }

    @Test func longDuplicateKeysAreShortenedInTheMessage() {
        let key = String(repeating: "k", count: 100)
        let error = syntaxError(Array("{\"\(key)\":1,\"\(key)\":2}".utf8))
        #expect(error?.message == "duplicate key \"\(String(repeating: "k", count: 64))…\" in object")
    }

    @Test func escapedNULIsValidJSON() throws {
        // Valid JSON: the validator, not the parser, refuses NUL in order fields.
        #expect(try parse(#"{"note":"a\u0000b"}"#)["note"] == .string("a\u{0}b"))
    }

    /// The string scanner skips eight plain bytes at a time: every special byte must still be found at every
    /// position of a word.
    @Test(arguments: 0..<24)
    func specialBytesAreFoundAtEveryPosition(_ prefix: Int) throws {
        let lead = Array(repeating: UInt8(ascii: "a"), count: prefix)
        let tail = Array(repeating: UInt8(ascii: "b"), count: 11)
        func parse(_ middle: [UInt8]) throws -> JSONValue { try JSONParser.parse([0x22] + lead + middle + tail + [0x22]) }
        let plain = String(repeating: "a", count: prefix)
        let after = String(repeating: "b", count: 11)
        #expect(try JSONParser.parse([0x22] + lead + [0x22]) == .string(plain))
        #expect(try parse(Array(#"\""#.utf8)) == .string(plain + "\"" + after))
        #expect(try parse(Array(#"\\"#.utf8)) == .string(plain + "\\" + after))
        #expect(try parse(Array("é".utf8)) == .string(plain + "é" + after))
        #expect(try parse([0x7F]) == .string(plain + "\u{7F}" + after))
        for (middle, reason) in [([UInt8(0x00)], JSONSyntaxError.Reason.controlCharacterInString), ([0x1F], .controlCharacterInString),
                                 ([0xFF], .invalidUTF8), ([0xC3], .invalidUTF8)] {
            let error = syntaxError([0x22] + lead + middle + tail + [0x22])
            #expect(error?.reason == reason)
            #expect(error?.offset == 1 + prefix)
        }
        let closed = syntaxError([0x22] + lead + [0x22] + tail)
        #expect(closed?.reason == .trailingData)
        #expect(closed?.offset == 2 + prefix)
    }

    /// Random values survive write → parse; random corruptions of them never crash the parser and always
    /// fail inside the body (or parse to something else, which is fine).
    @Test func randomDocumentsRoundTripAndCorruptionsFailCleanly() throws {
        var random = SplitMix64(seed: 0x5EED)
        for _ in 0..<300 {
            let value = randomValue(&random, depth: 0)
            var writer = JSONWriter()
            writer.value(value)
            let bytes = writer.bytes
            #expect(try JSONParser.parse(bytes) == value)
            for _ in 0..<10 {
                var corrupted = bytes
                let index = Int(random.next() % UInt64(corrupted.count))
                switch random.next() % 3 {
                case 0: corrupted[index] = UInt8(truncatingIfNeeded: random.next())
                case 1: corrupted.remove(at: index)
                default: corrupted.insert(UInt8(truncatingIfNeeded: random.next()), at: index)
                }
                if let error = syntaxError(corrupted) {
                    #expect((0...corrupted.count).contains(error.offset), "\(error)")
                }
            }
        }
    }

    @Test func longStringsAndManyEscapesDecode() throws {
        let plain = String(repeating: "abcdéfgh", count: 4096)
        #expect(try parse("\"\(plain)\"") == .string(plain))
        let escaped = String(repeating: #"\"\\\u4e2d"#, count: 1000)
        #expect(try parse("\"\(escaped)\"") == .string(String(repeating: "\"\\中", count: 1000)))
    }
}

/// A small deterministic generator for the randomized tests (no global state).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func randomString(_ random: inout SplitMix64) -> String {
    let pool: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "中", "😀", "\u{2028}", "\u{FFFF}", "\u{10FFFF}"]
    var scalars = String.UnicodeScalarView()
    for _ in 0..<Int(random.next() % 12) { scalars.append(pool[Int(random.next() % UInt64(pool.count))]) }
    return String(scalars)
}

private func randomValue(_ random: inout SplitMix64, depth: Int) -> JSONValue {
    switch random.next() % (depth < 4 ? 7 : 5) {
    case 0: return .null
    case 1: return .bool(random.next() % 2 == 0)
    case 2: return .number(JSONNumber(Int64(bitPattern: random.next()) >> Int64(random.next() % 64)))
    case 3, 4: return .string(randomString(&random))
    case 5: return .array((0..<Int(random.next() % 5)).map { _ in randomValue(&random, depth: depth + 1) })
    default:
        var members: [(key: String, value: JSONValue)] = []
        for index in 0..<Int(random.next() % 5) {
            members.append((key: "k\(index)" + randomString(&random), value: randomValue(&random, depth: depth + 1)))
        }
        return .object(members)
    }
}
