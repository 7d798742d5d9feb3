// JSONParser: a strict (RFC 8259) JSON parser over raw bytes, for request bodies.
//
// Why hand-written instead of Foundation's JSONDecoder:
//   * speed: JSONDecoder costs ~13 µs per 226-byte order on this service's hardware; this parser parses the
//     same body into a `JSONValue` with no Foundation, no per-character String appends and one String per
//     JSON string (the common no-escape case is decoded straight from the input bytes);
//   * errors: JSONDecoder cannot report the byte offset of a syntax error; every `JSONSyntaxError` here
//     carries the offset of the offending byte and a message a client can act on;
//   * duplicate keys: JSONDecoder silently keeps one of them; we reject them (at the offset of the second
//     key) so that two readers of the same body — us, a proxy, an auditor's tool — can never disagree about
//     what was ordered;
//   * nesting: JSONDecoder cannot bound nesting depth; this parser stops at `maxDepth` (default 32), so a
//     body of 10 000 `[` costs nothing and cannot overflow the stack.
//
// Choices (all deliberate, all tested in JSONParserTests):
//   * A UTF-8 byte order mark at the start is an error (RFC 8259 §8.1: senders must not add one; accepting
//     it would be one more way for two readers to disagree). Reason `.byteOrderMark`, offset 0.
//   * Input must be well-formed UTF-8 (RFC 8259 §8.1, Unicode Table 3-7: no overlongs, no surrogates, nothing
//     above U+10FFFF). The offset of an ill-formed sequence is that of its first byte (like Rust's
//     `valid_up_to`).
//   * Raw control characters (U+0000–U+001F) inside strings are errors; escaped ones (`\u0000` included) are
//     valid JSON and decoded — it is the validator's job to refuse NUL in the fields it knows.
//   * `\u` escapes must form valid scalars: a high surrogate must be followed by an escaped low surrogate, and
//     a lone low surrogate is an error. The offset is that of the backslash.
//   * Numbers keep their exact text; `JSONNumber.int64` is set only for integer literals (no fraction, no
//     exponent) that fit in Int64, so `1e3`, `2.0` and `99999999999999999999` are never silently rounded.
//   * Object keys are compared after unescaping, as Swift Strings (Unicode canonical equivalence):
//     `{"a":1,"\u0061":2}` is a duplicate, and so is `{"é":1,"e\u0301":2}` (NFC and NFD spellings). That is
//     stricter than comparing code points, never looser: a reader that normalizes keys (any Swift
//     `[String: …]`) would merge them, so we refuse them.

/// A JSON number, kept as written so that no precision is lost before a validator decides what it needs.
package struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number exactly as it appeared in the JSON text, e.g. `-12`, `1e3`, `2.0`.
    package let text: String
    /// True when the text has neither a fraction nor an exponent (`-0` and `99999999999999999999` are integer
    /// literals; `2.0` and `1e3` are not).
    package let isIntegerLiteral: Bool
    /// The exact value when the number is an integer literal within `Int64`, otherwise `nil`.
    package let int64: Int64?

    /// An integer number, as a parser would produce for its decimal text.
    package init(_ value: Int64) {
        self.text = String(value)
        self.isIntegerLiteral = true
        self.int64 = value
    }

    package init(text: String, isIntegerLiteral: Bool, int64: Int64?) {
        self.text = text
        self.isIntegerLiteral = isIntegerLiteral
        self.int64 = int64
    }

    /// True for an integer literal that does not fit in `Int64`.
    package var isOutOfInt64Range: Bool { isIntegerLiteral && int64 == nil }

    /// The nearest `Double` (may round, may be infinite for huge exponents). Not used on the order path.
    package var double: Double? { Double(text) }

    /// The number as written.
    package var description: String { text }
}

/// A parsed JSON value. Objects keep their members in document order (and, from `JSONParser`, never hold a key
/// twice).
package enum JSONValue: Sendable {
    /// `null`
    case null
    /// `true` or `false`
    case bool(Bool)
    /// A number, kept exactly as written.
    case number(JSONNumber)
    /// A string, unescaped.
    case string(String)
    /// An array, in order.
    case array([JSONValue])
    /// An object's members in document order.
    case object([(key: String, value: JSONValue)])

    /// The first member named `key` when this is an object, otherwise `nil`.
    package subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for member in members where member.key == key { return member.value }
        return nil
    }

    /// A short English name of the value's JSON type, e.g. `"an object"`, for messages.
    package var typeDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension JSONValue: Equatable {
    /// Structural equality; object members are compared in order, numbers by their text.
    package static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where x.key != y.key || x.value != y.value { return false }
            return true
        default: return false
        }
    }
}

/// Why a body is not acceptable JSON: the byte offset of the problem and a message for the client.
package struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem, for tests and metrics; clients get `message`.
    package enum Reason: String, Sendable, Equatable, Hashable, CaseIterable {
        /// The body is empty or only whitespace.
        case emptyBody
        /// The body starts with a UTF-8 byte order mark.
        case byteOrderMark
        /// A byte that cannot start or continue a well-formed UTF-8 sequence.
        case invalidUTF8
        /// A character that cannot appear here.
        case unexpectedCharacter
        /// The body ends in the middle of a value.
        case unexpectedEndOfInput
        /// A string is not closed before the end of the body.
        case unterminatedString
        /// A raw (unescaped) control character, NUL included, inside a string.
        case controlCharacterInString
        /// A backslash escape that JSON does not define, or a `\u` without four hex digits.
        case invalidEscape
        /// A `\u` escape of a UTF-16 surrogate that does not form a pair.
        case loneSurrogate
        /// A malformed number, e.g. `01`, `1.`, `1e`, `-`.
        case invalidNumber
        /// Anything but whitespace after the top-level value.
        case trailingData
        /// Arrays and objects nested deeper than the parser's limit.
        case nestingTooDeep
        /// An object holds the same key twice (compared after unescaping).
        case duplicateKey
    }

    /// The kind of problem.
    package let reason: Reason
    /// Zero-based byte offset into the body of the offending byte (for `unterminatedString`,
    /// `unexpectedEndOfInput` and `emptyBody`: the body's length, where the input ran out).
    package let offset: Int
    /// A human-readable explanation without the offset, e.g. `duplicate key "sku"`.
    package let message: String

    /// Creates an error; `message` should not repeat the offset (`description` adds it).
    package init(_ reason: Reason, offset: Int, message: String) {
        self.reason = reason
        self.offset = offset
        self.message = message
    }

    /// `message` with the offset, for logs: `duplicate key "a" in object at byte offset 7`.
    package var description: String { "\(message) at byte offset \(offset)" }
}

/// Parses a complete JSON text (RFC 8259, strict) into a `JSONValue`.
package enum JSONParser {
    /// The nesting limit used when none is given: containers deeper than this are rejected.
    package static let defaultMaxDepth = 32
    /// The largest `maxDepth` accepted; recursion depth is bounded by it.
    package static let maxSupportedDepth = 512

    /// Parses `bytes` as one JSON text.
    /// - Parameter maxDepth: the deepest nesting of arrays and objects allowed (1…`maxSupportedDepth`); the
    ///   top-level container is depth 1, and the error is reported at the bracket that exceeds it.
    package static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONSyntaxError) -> JSONValue {
        let result = bytes.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Result<JSONValue, JSONSyntaxError> in
            do throws(JSONSyntaxError) {
                return .success(try parse(buffer, maxDepth: maxDepth))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Parses the bytes of `buffer` as one JSON text. The buffer is only read during the call.
    package static func parse(_ buffer: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth) throws(JSONSyntaxError) -> JSONValue {
        precondition((1...maxSupportedDepth).contains(maxDepth), "maxDepth must be 1...\(maxSupportedDepth)")
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            throw JSONSyntaxError(.emptyBody, offset: 0, message: "the body is empty")
        }
        var reader = Reader(base: base.assumingMemoryBound(to: UInt8.self), count: buffer.count, maxDepth: maxDepth)
        return try reader.parseDocument()
    }
}

// MARK: - The reader

private enum ASCII {
    static let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C, slash: UInt8 = 0x2F
    static let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D
    static let openBracket: UInt8 = 0x5B, closeBracket: UInt8 = 0x5D
    static let comma: UInt8 = 0x2C, colon: UInt8 = 0x3A
    static let minus: UInt8 = 0x2D, plus: UInt8 = 0x2B, dot: UInt8 = 0x2E
    static let zero: UInt8 = 0x30, nine: UInt8 = 0x39
    static let lowerE: UInt8 = 0x65, upperE: UInt8 = 0x45
    static let space: UInt8 = 0x20, tab: UInt8 = 0x09, newline: UInt8 = 0x0A, carriageReturn: UInt8 = 0x0D
}

private struct Reader {
    let base: UnsafePointer<UInt8>
    let count: Int
    let maxDepth: Int
    var position = 0
    var depth = 0
    /// Reused buffer for strings with escapes.
    var scratch: [UInt8] = []

    init(base: UnsafePointer<UInt8>, count: Int, maxDepth: Int) {
        self.base = base
        self.count = count
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
        if count >= 3, base[0] == 0xEF, base[1] == 0xBB, base[2] == 0xBF {
            throw JSONSyntaxError(.byteOrderMark, offset: 0, message: "a byte order mark (U+FEFF) is not allowed before the JSON value")
        }
        skipWhitespace()
        if position == count {
            throw JSONSyntaxError(.emptyBody, offset: count, message: "the body holds no JSON value, only whitespace")
        }
        let value = try parseValue()
        skipWhitespace()
        if position < count {
            throw JSONSyntaxError(.trailingData, offset: position, message: "unexpected \(describeCharacter(at: position)) after the JSON value")
        }
        return value
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < count {
            switch base[position] {
            case ASCII.space, ASCII.newline, ASCII.carriageReturn, ASCII.tab: position += 1
            default: return
            }
        }
    }

    mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
        skipWhitespace()
        guard position < count else { throw unexpected(at: position, expected: "a value") }
        switch base[position] {
        case ASCII.quote: return .string(try parseString())
        case ASCII.openBrace: return try parseObject()
        case ASCII.openBracket: return try parseArray()
        case ASCII.minus, ASCII.zero...ASCII.nine: return .number(try parseNumber())
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        default: throw unexpected(at: position, expected: "a value")
        }
    }

    mutating func enterContainer() throws(JSONSyntaxError) {
        depth += 1
        if depth > maxDepth {
            throw JSONSyntaxError(.nestingTooDeep, offset: position, message: "arrays and objects are nested deeper than \(maxDepth) levels")
        }
    }

    mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
        try enterContainer()
        position += 1  // {
        var members: [(key: String, value: JSONValue)] = []
        var keys: Set<String>? = nil  // built once the object is large enough that a linear scan would cost
        skipWhitespace()
        if position < count, base[position] == ASCII.closeBrace {
            position += 1
            depth -= 1
            return .object(members)
        }
        members.reserveCapacity(8)
        while true {
            skipWhitespace()
            guard position < count, base[position] == ASCII.quote else {
                throw unexpected(at: position, expected: "a string key")
            }
            let keyOffset = position
            let key = try parseString()
            var isDuplicate = false
            if keys != nil {
                isDuplicate = !keys!.insert(key).inserted
            } else {
                for member in members where member.key == key { isDuplicate = true; break }
                if members.count >= 16 { keys = Set(members.lazy.map(\.key)); keys!.insert(key) }
            }
            if isDuplicate {
                throw JSONSyntaxError(.duplicateKey, offset: keyOffset, message: "duplicate key \(quoted(key)) in object")
            }
            skipWhitespace()
            guard position < count, base[position] == ASCII.colon else {
                throw unexpected(at: position, expected: "':' after the key")
            }
            position += 1
            let value = try parseValue()
            members.append((key: key, value: value))
            skipWhitespace()
            guard position < count else { throw unexpected(at: position, expected: "',' or '}'") }
            switch base[position] {
            case ASCII.comma:
                position += 1
            case ASCII.closeBrace:
                position += 1
                depth -= 1
                return .object(members)
            default:
                throw unexpected(at: position, expected: "',' or '}'")
            }
        }
    }

    mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
        try enterContainer()
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < count, base[position] == ASCII.closeBracket {
            position += 1
            depth -= 1
            return .array(elements)
        }
        elements.reserveCapacity(4)
        while true {
            elements.append(try parseValue())
            skipWhitespace()
            guard position < count else { throw unexpected(at: position, expected: "',' or ']'") }
            switch base[position] {
            case ASCII.comma:
                position += 1
            case ASCII.closeBracket:
                position += 1
                depth -= 1
                return .array(elements)
            default:
                throw unexpected(at: position, expected: "',' or ']'")
            }
        }
    }

    mutating func parseLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let name = literal.description
        let bytes = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for byte in bytes {
            guard position < count, base[position] == byte else {
                throw unexpected(at: position, expected: "'\(name)'")
            }
            position += 1
        }
    }

    // MARK: Numbers

    mutating func parseNumber() throws(JSONSyntaxError) -> JSONNumber {
        let start = position
        let negative = base[position] == ASCII.minus
        if negative { position += 1 }
        guard position < count else { throw unexpected(at: position, expected: "a digit") }
        // Accumulated as a negative number so that Int64.min fits.
        var accumulator: Int64 = 0
        var overflowed = false
        let first = base[position]
        if first == ASCII.zero {
            position += 1
            if position < count, isDigit(base[position]) {
                throw JSONSyntaxError(.invalidNumber, offset: position, message: "a number must not have leading zeros")
            }
        } else if isDigit(first) {
            while position < count, isDigit(base[position]) {
                if !overflowed {
                    let (times10, o1) = accumulator.multipliedReportingOverflow(by: 10)
                    let (next, o2) = times10.subtractingReportingOverflow(Int64(base[position] &- ASCII.zero))
                    if o1 || o2 { overflowed = true } else { accumulator = next }
                }
                position += 1
            }
        } else {
            throw JSONSyntaxError(.invalidNumber, offset: position, message: "expected a digit after '-', found \(describeCharacter(at: position))")
        }
        var isInteger = true
        if position < count, base[position] == ASCII.dot {
            isInteger = false
            position += 1
            try expectDigits(after: "the decimal point")
        }
        if position < count, base[position] == ASCII.lowerE || base[position] == ASCII.upperE {
            isInteger = false
            position += 1
            if position < count, base[position] == ASCII.plus || base[position] == ASCII.minus { position += 1 }
            try expectDigits(after: "the exponent marker")
        }
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: position - start), as: UTF8.self)
        var value: Int64? = nil
        if isInteger, !overflowed {
            if negative {
                value = accumulator
            } else if accumulator != .min {
                value = -accumulator
            }
        }
        return JSONNumber(text: text, isIntegerLiteral: isInteger, int64: value)
    }

    mutating func expectDigits(after what: String) throws(JSONSyntaxError) {
        guard position < count else { throw unexpected(at: position, expected: "a digit after \(what)") }
        guard isDigit(base[position]) else {
            throw JSONSyntaxError(.invalidNumber, offset: position, message: "expected a digit after \(what), found \(describeCharacter(at: position))")
        }
        while position < count, isDigit(base[position]) { position += 1 }
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte &- ASCII.zero < 10 }

    // MARK: Strings

    /// Parses the string whose opening quote is at `position`.
    mutating func parseString() throws(JSONSyntaxError) -> String {
        let open = position
        position += 1
        let start = position
        // Fast path: no escapes, so the string is exactly the (validated) bytes between the quotes.
        // The index lives in a local so that the loop keeps it in a register.
        var index = position
        let base = self.base, count = self.count
        while index < count {
            // Eight plain ASCII bytes at a time (no quote, backslash, control character or non-ASCII byte).
            while index + 8 <= count, isPlainASCII(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) {
                index += 8
            }
            guard index < count else { break }
            let byte = base[index]
            if byte == ASCII.quote {
                position = index + 1
                return String(decoding: UnsafeBufferPointer(start: base + start, count: index - start), as: UTF8.self)
            }
            if byte == ASCII.backslash {
                position = index
                return try parseEscapedString(open: open, start: start)
            }
            if byte < 0x20 { throw controlCharacter(at: index) }
            if byte < 0x80 {
                index += 1
            } else {
                index += try validatedSequenceLength(at: index)
            }
        }
        throw unterminatedString(open: open)
    }

    /// True when none of the eight bytes in `word` is `"`, `\`, below 0x20 or above 0x7F (SWAR bit tricks:
    /// a byte b is below n when (b - n) borrows into its high bit while b's own high bit is clear).
    @inline(__always)
    func isPlainASCII(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- ones &* 0x20) & ~word       // high bit set where byte < 0x20 (or ≥ 0x80)
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote             // high bit set where byte == '"' (or ≥ 0x80)
        let hasBackslash = (backslash &- ones) & ~backslash
        return (control | hasQuote | hasBackslash | word) & highs == 0
    }

    /// The slow path: `position` is at the first backslash; the bytes from `start` are already validated.
    mutating func parseEscapedString(open: Int, start: Int) throws(JSONSyntaxError) -> String {
        scratch.removeAll(keepingCapacity: true)
        var runStart = start
        while position < count {
            let byte = base[position]
            if byte == ASCII.quote {
                scratch.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: position - runStart))
                position += 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if byte == ASCII.backslash {
                scratch.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: position - runStart))
                try appendEscape(open: open)
                runStart = position
                continue
            }
            if byte < 0x20 { throw controlCharacter(at: position) }
            if byte < 0x80 {
                position += 1
            } else {
                position += try validatedSequenceLength(at: position)
            }
        }
        throw unterminatedString(open: open)
    }

    /// Decodes the escape at `position` (a backslash) into `scratch` and moves past it.
    mutating func appendEscape(open: Int) throws(JSONSyntaxError) {
        let backslash = position
        guard position + 1 < count else { throw unterminatedString(open: open) }
        let escaped = base[position + 1]
        position += 2
        switch escaped {
        case ASCII.quote: scratch.append(ASCII.quote)
        case ASCII.backslash: scratch.append(ASCII.backslash)
        case ASCII.slash: scratch.append(ASCII.slash)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try readHex4(escapeAt: backslash, open: open)
            var scalar = UInt32(unit)
            if (0xD800...0xDBFF).contains(unit) {
                // A high surrogate must be followed at once by an escaped low surrogate.
                guard position < count, base[position] == ASCII.backslash else {
                    if position >= count { throw unterminatedString(open: open) }
                    throw loneSurrogate(at: backslash, unit)
                }
                guard position + 1 < count else { throw unterminatedString(open: open) }
                guard base[position + 1] == UInt8(ascii: "u") else { throw loneSurrogate(at: backslash, unit) }
                let lowBackslash = position
                position += 2
                let low = try readHex4(escapeAt: lowBackslash, open: open)
                guard (0xDC00...0xDFFF).contains(low) else { throw loneSurrogate(at: backslash, unit) }
                scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(unit) {
                throw loneSurrogate(at: backslash, unit)
            }
            appendUTF8(scalar)
        default:
            if escaped >= 0x80, (try? validatedSequenceLength(at: backslash + 1)) == nil {
                throw JSONSyntaxError(.invalidUTF8, offset: backslash + 1, message: "invalid UTF-8 sequence starting with byte \(hexByte(escaped))")
            }
            throw JSONSyntaxError(.invalidEscape, offset: backslash, message: "invalid escape '\\\(characterText(at: backslash + 1))' in string")
        }
    }

    /// Reads the four hex digits of a `\u` escape whose backslash is at `escapeAt`; `position` is after `\u`.
    mutating func readHex4(escapeAt backslash: Int, open: Int) throws(JSONSyntaxError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard position < count else { throw unterminatedString(open: open) }
            let byte = base[position]
            let digit: UInt8
            switch byte {
            case ASCII.zero...ASCII.nine: digit = byte - ASCII.zero
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default:
                throw JSONSyntaxError(.invalidEscape, offset: backslash, message: "invalid \\u escape in string: expected four hex digits")
            }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }

    mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    // MARK: UTF-8

    /// The length of the well-formed UTF-8 sequence (2–4 bytes) starting at `index`, whose first byte is
    /// ≥ 0x80, or nil (Unicode Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF, no truncation).
    func sequenceLength(at index: Int) -> Int? {
        let lead = base[index]
        @inline(__always) func byte(_ k: Int) -> UInt8? { index + k < count ? base[index + k] : nil }
        @inline(__always) func isContinuation(_ b: UInt8?) -> Bool { b.map { $0 & 0xC0 == 0x80 } ?? false }
        switch lead {
        case 0xC2...0xDF:
            return isContinuation(byte(1)) ? 2 : nil
        case 0xE0...0xEF:
            guard let second = byte(1) else { return nil }
            let secondOK: Bool
            switch lead {
            case 0xE0: secondOK = (0xA0...0xBF).contains(second)
            case 0xED: secondOK = (0x80...0x9F).contains(second)
            default: secondOK = (0x80...0xBF).contains(second)
            }
            return secondOK && isContinuation(byte(2)) ? 3 : nil
        case 0xF0...0xF4:
            guard let second = byte(1) else { return nil }
            let secondOK: Bool
            switch lead {
            case 0xF0: secondOK = (0x90...0xBF).contains(second)
            case 0xF4: secondOK = (0x80...0x8F).contains(second)
            default: secondOK = (0x80...0xBF).contains(second)
            }
            return secondOK && isContinuation(byte(2)) && isContinuation(byte(3)) ? 4 : nil
        default:
            return nil
        }
    }

    func validatedSequenceLength(at index: Int) throws(JSONSyntaxError) -> Int {
        guard let length = sequenceLength(at: index) else {
            throw JSONSyntaxError(.invalidUTF8, offset: index, message: "invalid UTF-8 sequence starting with byte \(hexByte(base[index]))")
        }
        return length
    }

    // MARK: Errors

    /// The error for a byte that cannot appear at `index` (or for the input ending there).
    func unexpected(at index: Int, expected: String) -> JSONSyntaxError {
        guard index < count else {
            return JSONSyntaxError(.unexpectedEndOfInput, offset: count, message: "unexpected end of input, expected \(expected)")
        }
        if base[index] >= 0x80, sequenceLength(at: index) == nil {
            return JSONSyntaxError(.invalidUTF8, offset: index, message: "invalid UTF-8 sequence starting with byte \(hexByte(base[index]))")
        }
        return JSONSyntaxError(.unexpectedCharacter, offset: index, message: "unexpected \(describeCharacter(at: index)), expected \(expected)")
    }

    func controlCharacter(at index: Int) -> JSONSyntaxError {
        let byte = base[index]
        let message = byte == 0
            ? "raw NUL byte in string (control characters must be escaped)"
            : "raw control character \(scalarName(UInt32(byte))) in string (control characters must be escaped)"
        return JSONSyntaxError(.controlCharacterInString, offset: index, message: message)
    }

    func unterminatedString(open: Int) -> JSONSyntaxError {
        JSONSyntaxError(.unterminatedString, offset: count, message: "unterminated string (opened at byte \(open))")
    }

    func loneSurrogate(at index: Int, _ unit: UInt16) -> JSONSyntaxError {
        JSONSyntaxError(.loneSurrogate, offset: index, message: "\\u escape of lone surrogate \(scalarName(UInt32(unit))) in string")
    }

    /// `'x'` for printable ASCII, `U+XXXX` for other characters, `byte 0xXX` for ill-formed UTF-8.
    func describeCharacter(at index: Int) -> String {
        let byte = base[index]
        if byte >= 0x21 && byte < 0x7F { return "character '\(Character(Unicode.Scalar(byte)))'" }
        if byte < 0x80 { return "character \(scalarName(UInt32(byte)))" }
        guard let length = sequenceLength(at: index) else { return "byte \(hexByte(byte))" }
        var scalar = UInt32(byte) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
        for k in 1..<length { scalar = scalar << 6 | UInt32(base[index + k] & 0x3F) }
        return "character \(scalarName(scalar))"
    }

    /// The character at `index` as text for a message (the whole UTF-8 sequence when there is one).
    func characterText(at index: Int) -> String {
        let byte = base[index]
        if byte >= 0x20 && byte < 0x7F { return String(Character(Unicode.Scalar(byte))) }
        if byte >= 0x80, let length = sequenceLength(at: index) {
            return String(decoding: UnsafeBufferPointer(start: base + index, count: length), as: UTF8.self)
        }
        return scalarName(UInt32(byte))
    }
}

private let hexDigits: [Character] = Array("0123456789ABCDEF")

private func hexByte(_ byte: UInt8) -> String {
    "0x" + String(hexDigits[Int(byte >> 4)]) + String(hexDigits[Int(byte & 0xF)])
}

/// `U+000A`-style name of a code point.
private func scalarName(_ value: UInt32) -> String {
    var digits = String(value, radix: 16, uppercase: true)
    while digits.count < 4 { digits = "0" + digits }
    return "U+" + digits
}

/// A key quoted for a message, long keys shortened.
private func quoted(_ key: String) -> String {
    let scalars = key.unicodeScalars
    if scalars.count <= 64 { return "\"\(key)\"" }
    return "\"" + String(String.UnicodeScalarView(scalars.prefix(64))) + "…\""
}
