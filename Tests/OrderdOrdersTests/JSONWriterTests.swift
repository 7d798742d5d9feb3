import Testing
// @testable: these tests read internals: OrderdSupport (CivilDate); OrderdOrders (CivilDate).
@testable import OrderdSupport
@testable import OrderdOrders

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

@Suite struct JSONWriterTests {
    struct EscapeCase: Sendable, CustomTestStringConvertible {
        let input: String
        let json: String
        var testDescription: String { json }
    }

    static let escapes: [EscapeCase] = [
        EscapeCase(input: "", json: #""""#),
        EscapeCase(input: "plain", json: #""plain""#),
        EscapeCase(input: "a\"b", json: #""a\"b""#),
        EscapeCase(input: "a\\b", json: #""a\\b""#),
        EscapeCase(input: "/</script>", json: #""/</script>""#),
        EscapeCase(input: "\n\r\t\u{8}\u{C}", json: #""\n\r\t\b\f""#),
        EscapeCase(input: "\u{0}\u{1}\u{1F}", json: #""\u0000\u0001\u001f""#),
        EscapeCase(input: "\u{7F}", json: "\"\u{7F}\""),
        EscapeCase(input: "é中😀", json: "\"é中😀\""),
        EscapeCase(input: "\u{2028}\u{2029}", json: "\"\u{2028}\u{2029}\""),
        EscapeCase(input: "x\"\"y\\\\\n", json: #""x\"\"y\\\\\n""#),
    ]

    @Test(arguments: escapes)
    func escapesStrings(_ testCase: EscapeCase) throws {
        var writer = JSONWriter()
        writer.string(testCase.input)
        #expect(text(writer.bytes) == testCase.json)
        #expect(try JSONParser.parse(writer.bytes) == .string(testCase.input))
    }

    @Test func escapesEveryControlCharacterAndRoundTrips() throws {
        let all = String(String.UnicodeScalarView((0..<0x80).map { Unicode.Scalar(UInt8($0)) }))
        var writer = JSONWriter()
        writer.string(all)
        #expect(!writer.bytes.dropFirst().dropLast().contains { $0 < 0x20 })
        #expect(try JSONParser.parse(writer.bytes) == .string(all))
    }

    @Test(arguments: [Int64.min, -1, 0, 7, 1299, Int64.max])
    func writesIntegers(_ value: Int64) throws {
        var writer = JSONWriter()
        writer.integer(value)
        #expect(text(writer.bytes) == String(value))
        guard case .number(let number) = try JSONParser.parse(writer.bytes) else { Issue.record("not a number"); return }
        #expect(number.int64 == value)
    }

    @Test func placesCommasAndNests() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("a")
        writer.beginArray()
        writer.integer(1)
        writer.string("x")
        writer.beginObject()
        writer.endObject()
        writer.beginArray()
        writer.endArray()
        writer.null()
        writer.bool(true)
        writer.bool(false)
        writer.endArray()
        writer.key("b\"")
        writer.beginObject()
        writer.key("c")
        writer.integer(Int(-2))
        writer.endObject()
        writer.key("d")
        writer.number(JSONNumber(text: "1e3", isIntegerLiteral: false, int64: nil))
        writer.endObject()
        #expect(text(writer.bytes) == #"{"a":[1,"x",{},[],null,true,false],"b\"":{"c":-2},"d":1e3}"#)
    }

    @Test func writesParsedValuesBack() throws {
        let original = #"{"z":[1,-0,2.5e-3,"\u00e9\n",{"k":null}],"t":true,"f":false}"#
        let value = try JSONParser.parse(Array(original.utf8))
        var writer = JSONWriter()
        writer.value(value)
        #expect(text(writer.bytes) == "{\"z\":[1,-0,2.5e-3,\"é\\n\",{\"k\":null}],\"t\":true,\"f\":false}")
        #expect(try JSONParser.parse(writer.bytes) == value)
    }

    @Test func buildsTheHTTPErrorBody() throws {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("error")
        writer.beginObject()
        writer.key("code")
        writer.string("validation_failed")
        writer.key("message")
        writer.string("The order is not valid: 1 problem.")
        writer.key("request_id")
        writer.string("req-1")
        writer.key("details")
        writer.beginArray()
        for problem in [FieldProblem(field: "items[2].quantity", message: "must be an integer from 1 to 1000")] {
            writer.beginObject()
            writer.key("field")
            writer.string(problem.field)
            writer.key("message")
            writer.string(problem.message)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        writer.endObject()
        #expect(text(writer.bytes) == #"{"error":{"code":"validation_failed","message":"The order is not valid: 1 problem.","request_id":"req-1","details":[{"field":"items[2].quantity","message":"must be an integer from 1 to 1000"}]}}"#)
        _ = try JSONParser.parse(writer.bytes)
    }

    // MARK: RFC 3339

    struct DateCase: Sendable, CustomTestStringConvertible {
        let millis: Int64
        let text: String
        var testDescription: String { text }
    }

    static let dates: [DateCase] = [
        DateCase(millis: 0, text: "1970-01-01T00:00:00.000Z"),
        DateCase(millis: 1, text: "1970-01-01T00:00:00.001Z"),
        DateCase(millis: -1, text: "1969-12-31T23:59:59.999Z"),
        DateCase(millis: 1_795_734_533_123, text: "2026-11-26T23:08:53.123Z"),
        DateCase(millis: 68_214_896_789, text: "1972-02-29T12:34:56.789Z"),
        DateCase(millis: 951_782_400_000, text: "2000-02-29T00:00:00.000Z"),
        DateCase(millis: 951_868_800_000, text: "2000-03-01T00:00:00.000Z"),
        DateCase(millis: 946_684_799_999, text: "1999-12-31T23:59:59.999Z"),
        DateCase(millis: 978_307_200_000, text: "2001-01-01T00:00:00.000Z"),
        DateCase(millis: 1_709_251_199_999, text: "2024-02-29T23:59:59.999Z"),
        DateCase(millis: 1_709_251_200_000, text: "2024-03-01T00:00:00.000Z"),
        DateCase(millis: 2_147_483_647_000, text: "2038-01-19T03:14:07.000Z"),
        DateCase(millis: 4_107_542_399_999, text: "2100-02-28T23:59:59.999Z"),  // 2100 is not a leap year
        DateCase(millis: 4_107_542_400_000, text: "2100-03-01T00:00:00.000Z"),
        DateCase(millis: -2_203_891_200_000, text: "1900-03-01T00:00:00.000Z"),
        DateCase(millis: -62_135_596_800_000, text: "0001-01-01T00:00:00.000Z"),
        DateCase(millis: 253_402_300_799_999, text: "9999-12-31T23:59:59.999Z"),
    ]

    @Test(arguments: dates)
    func formatsRFC3339(_ testCase: DateCase) {
        #expect(WallClock.rfc3339(millis: testCase.millis) == testCase.text)
        var writer = JSONWriter()
        writer.timestamp(millis: testCase.millis)
        #expect(text(writer.bytes) == "\"\(testCase.text)\"")
    }

    @Test func extremeMillisDoNotTrap() {
        #expect(!WallClock.rfc3339(millis: .max).isEmpty)
        #expect(!WallClock.rfc3339(millis: .min).isEmpty)
    }

    /// Every day from 1600-03-01 to 2400-12-31 against a plain day-by-day calendar walk.
    @Test func civilFromDaysMatchesACalendarWalk() {
        func isLeap(_ y: Int64) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }
        func daysIn(_ y: Int64, _ m: Int) -> Int { [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] }
        // 1600-03-01 is 135 080 days before 1970-01-01.
        var expected = CivilDate(year: 1600, month: 3, day: 1)
        var mismatches = 0
        for days in Int64(-135_080)...Int64(157_000) {
            if CivilDate(daysSinceEpoch: days) != expected { mismatches += 1 }
            expected.day += 1
            if expected.day > daysIn(expected.year, expected.month) {
                expected.day = 1
                expected.month += 1
                if expected.month > 12 { expected.month = 1; expected.year += 1 }
            }
        }
        #expect(mismatches == 0)
        #expect(CivilDate(daysSinceEpoch: 0) == CivilDate(year: 1970, month: 1, day: 1))
    }
}
