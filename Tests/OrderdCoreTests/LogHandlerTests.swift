import Testing
@testable import OrderdCore

/// The log line formats: logfmt quoting and JSON escaping.
@Suite struct LogHandlerTests {
    @Test(arguments: [
        ("plain", "k=plain"),
        ("two words", #"k="two words""#),
        ("a=b", #"k="a=b""#),
        (#"say "hi""#, #"k="say \"hi\"""#),
        ("", #"k="""#),
        ("line\nbreak", #"k="line\nbreak""#),
        ("tab\there", #"k="tab\there""#),
        ("ünïcode", "k=ünïcode"),
    ])
    func logfmtQuotesOnlyWhatNeedsIt(value: String, expected: String) {
        #expect(OrderdLogHandler.logfmt([("k", value)]) == expected)
    }

    @Test func logfmtJoinsFieldsWithSpaces() {
        #expect(OrderdLogHandler.logfmt([("level", "info"), ("msg", "request"), ("status", "201")]) == "level=info msg=request status=201")
    }

    @Test func jsonEscapesKeysAndValues() {
        #expect(OrderdLogHandler.json([("msg", "a \"b\"\n"), ("path", "/orders")]) == #"{"msg":"a \"b\"\n","path":"/orders"}"#)
    }

    @Test func timestampIsRFC3339WithMilliseconds() {
        let ts = OrderdLogHandler.timestamp()
        #expect(ts.count == 24)
        #expect(ts.hasSuffix("Z"))
        #expect(Array(ts)[10] == "T" && Array(ts)[19] == ".")
    }
}
