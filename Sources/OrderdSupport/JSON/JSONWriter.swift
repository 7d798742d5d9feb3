/// Builds compact JSON text straight into a byte array: no Foundation, no intermediate `String`s.
///
/// Commas are placed automatically: a value or key written after another value at the same level gets one.
/// The writer does not check that the calls nest properly (an unbalanced `endObject` produces broken JSON);
/// callers are short, fixed encoders such as `OrderJSON` and the HTTP error bodies.
///
/// ```swift
/// var writer = JSONWriter()
/// writer.beginObject()
/// writer.key("code")
/// writer.string("not_found")
/// writer.endObject()
/// writer.bytes  // {"code":"not_found"}
/// ```
package struct JSONWriter: Sendable {
    /// The JSON text written so far, UTF-8.
    package private(set) var bytes: [UInt8]
    /// True after a value at the current level, so that the next key or array element needs a comma.
    private var needsComma = false

    /// Creates an empty writer; `capacity` is a hint for the expected output size in bytes.
    package init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Writes `{`.
    package mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    /// Writes `}`.
    package mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Writes `[`.
    package mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    /// Writes `]`.
    package mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes an object key (escaped) and its colon; the value written next belongs to it.
    package mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes a string value, escaped per RFC 8259: `"` and `\` are backslash-escaped, control characters
    /// U+0000–U+001F become `\n`, `\t`, … or `\u00XX`, and everything else (non-ASCII included) is copied as UTF-8.
    package mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
        needsComma = true
    }

    /// Writes an integer value in decimal.
    package mutating func integer(_ value: Int64) {
        separate()
        appendDecimal(value)
        needsComma = true
    }

    /// Writes an integer value in decimal.
    package mutating func integer(_ value: Int) {
        integer(Int64(value))
    }

    /// Writes a number exactly as it was parsed.
    package mutating func number(_ value: JSONNumber) {
        separate()
        bytes.append(contentsOf: value.text.utf8)
        needsComma = true
    }

    /// Writes `true` or `false`.
    package mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: value ? Self.trueBytes : Self.falseBytes)
        needsComma = true
    }

    /// Writes `null`.
    package mutating func null() {
        separate()
        bytes.append(contentsOf: Self.nullBytes)
        needsComma = true
    }

    /// Writes a timestamp string in RFC 3339 UTC with milliseconds, e.g. `"2026-11-26T23:08:53.123Z"`.
    /// - Parameter millis: milliseconds since 1970-01-01T00:00:00Z; years before 0000 or after 9999 cannot be
    ///   expressed in RFC 3339 and are written with a sign or more digits (never happens for a real clock).
    package mutating func timestamp(millis: Int64) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        Self.appendRFC3339(millis: millis, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// Writes any parsed JSON value.
    package mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .number(let parsed): number(parsed)
        case .string(let text): string(text)
        case .array(let elements):
            beginArray()
            for element in elements { self.value(element) }
            endArray()
        case .object(let members):
            beginObject()
            for member in members {
                key(member.key)
                self.value(member.value)
            }
            endObject()
        }
    }

    // MARK: - Internals

    private static let trueBytes: [UInt8] = Array("true".utf8)
    private static let falseBytes: [UInt8] = Array("false".utf8)
    private static let nullBytes: [UInt8] = Array("null".utf8)
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func appendQuoted(_ text: String) {
        Self.appendQuoted(text, to: &bytes)
    }

    /// Appends `text` as a JSON string literal, escaped as ``string(_:)`` does, to bytes outside a writer
    /// (the log handler's lines, whose logfmt values use the same quoting).
    package static func appendQuoted(_ text: String, to bytes: inout [UInt8]) {
        var text = text
        text.withUTF8 { utf8 in appendQuoted(utf8, to: &bytes) }
    }

    /// The same for text already in UTF-8.
    package static func appendQuoted(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        appendEscaped(utf8, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Copies runs of bytes that need no escaping in one go.
    private static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        var runStart = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
            runStart = index + 1
            bytes.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case 0x0A: bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "t"))
            case 0x08: bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(UInt8(ascii: "f"))
            default:
                bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
        }
        if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
    }

    private mutating func appendDecimal(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        Self.appendDigits(value.magnitude, minimumWidth: 1, to: &bytes)
    }

    /// Appends `value` in decimal, left-padded with zeros to `minimumWidth` (at most 20) digits.
    private static func appendDigits(_ value: UInt64, minimumWidth: Int, to bytes: inout [UInt8]) {
        // UInt64.max has 20 digits. Filled from the end in a stack buffer, appended in one go.
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &buffer) { raw in
            let digits = raw.bindMemory(to: UInt8.self)
            var start = 20
            var rest = value
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            } while rest > 0
            while 20 - start < minimumWidth && start > 0 {
                start -= 1
                digits[start] = UInt8(ascii: "0")
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start..<20]))
        }
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ`, unquoted, to bytes outside a writer (the log handler's `ts`). From the
    /// proleptic Gregorian calendar (civil-from-days, after Howard Hinnant's public-domain algorithm), so no
    /// DateFormatter, Calendar or time zone database is involved.
    package static func appendRFC3339(millis: Int64, to bytes: inout [UInt8]) {
        let millisPerDay: Int64 = 86_400_000
        var days = millis / millisPerDay
        var millisOfDay = millis % millisPerDay
        if millisOfDay < 0 {  // floor division for times before 1970
            millisOfDay += millisPerDay
            days -= 1
        }
        let date = CivilDate(daysSinceEpoch: days)
        if date.year < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDigits(date.year.magnitude, minimumWidth: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(UInt64(date.month), minimumWidth: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(UInt64(date.day), minimumWidth: 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        let seconds = millisOfDay / 1000
        appendDigits(UInt64(seconds / 3600), minimumWidth: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(UInt64(seconds / 60 % 60), minimumWidth: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(UInt64(seconds % 60), minimumWidth: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        appendDigits(UInt64(millisOfDay % 1000), minimumWidth: 3, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }
}

/// A day of the proleptic Gregorian calendar.
struct CivilDate: Sendable, Equatable {
    var year: Int64
    /// 1…12
    var month: Int
    /// 1…31
    var day: Int

    init(year: Int64, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The date `days` days after 1970-01-01 (negative: before). Valid for the whole Int64 millisecond range.
    init(daysSinceEpoch days: Int64) {
        let z = days + 719_468                                           // days since 0000-03-01
        let era = (z >= 0 ? z : z - 146_096) / 146_097                   // 400-year eras
        let dayOfEra = z - era * 146_097                                 // 0...146096
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365  // 0...399
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // 0...365, from March 1
        let shiftedMonth = (5 * dayOfYear + 2) / 153                     // 0...11, March = 0
        day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }
}
