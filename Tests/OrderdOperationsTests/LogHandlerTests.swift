import Foundation
import Logging
import OrderdConfig
import Testing
import TestSupport
// @testable: these tests read internals: OrderdOperations (LogLine, syslogPriority).
@testable import OrderdOperations

/// A closed line of `fields` in `format`, as text.
private func line(_ format: OrderdConfiguration.Log.Format, _ fields: [(String, String)]) -> String {
    var line = LogLine(format: format)
    for (key, value) in fields { line.field(key, value) }
    line.close()
    return String(decoding: line.bytes, as: UTF8.self)
}

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
        #expect(line(.logfmt, [("k", value)]) == expected)
    }

    @Test func logfmtJoinsFieldsWithSpaces() {
        #expect(line(.logfmt, [("level", "info"), ("msg", "request"), ("status", "201")]) == "level=info msg=request status=201")
    }

    @Test func jsonEscapesKeysAndValues() {
        #expect(line(.json, [("msg", "a \"b\"\n"), ("path", "/orders")]) == #"{"msg":"a \"b\"\n","path":"/orders"}"#)
    }

    @Test func timestampIsRFC3339WithMillisecondsQuotedOnlyInJSON() {
        for format in [OrderdConfiguration.Log.Format.logfmt, .json] {
            var line = LogLine(format: format)
            line.timestamp("ts", millis: 1_764_976_153_123)
            line.field("level", "info")
            line.close()
            let expected = format == .json
                ? #"{"ts":"2025-12-05T23:09:13.123Z","level":"info"}"# : "ts=2025-12-05T23:09:13.123Z level=info"
            #expect(String(decoding: line.bytes, as: UTF8.self) == expected)
        }
    }

    @Test func journalLinesStartWithTheirPriority() {
        var line = LogLine(format: .logfmt, priority: OrderdLogHandler.syslogPriority(.error))
        line.field("msg", "x")
        #expect(String(decoding: line.bytes, as: UTF8.self) == "<3>msg=x")
    }
}

/// What journald and log pipelines get: priorities by level, numbers as numbers.
@Suite struct LogLineTypingTests {
    @Test(arguments: [
        ("201", true), ("0", true), ("-3", true), ("0.086", true), ("12.5", true), ("123456789012345", true),
        ("1234567890123456", false), ("01", false), ("1.", false), (".5", false), ("1e3", false), ("", false),
        ("-", false), ("0x10", false), ("12a", false), ("0190a000-0000-7000", false),
    ])
    func numbersAreTheDecimalsADoubleHoldsExactly(_ text: String, _ isNumber: Bool) {
        #expect(line(.json, [("v", text)]) == (isNumber ? #"{"v":\#(text)}"# : #"{"v":"\#(text)"}"#))
    }

    @Test func jsonLinesTypeTheirNumbers() {
        let line = line(.json, [("msg", "request"), ("status", "201"), ("duration_ms", "0.086"), ("request_id", "0123")])
        #expect(line == #"{"msg":"request","status":201,"duration_ms":0.086,"request_id":"0123"}"#)
    }

    @Test func prioritiesFollowSyslog() {
        let expected: [(Logger.Level, Int)] = [(.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2)]
        for (level, priority) in expected { #expect(OrderdLogHandler.syslogPriority(level) == priority) }
    }

    @Test func theJournalIsRecognisedByDeviceAndInodeOnly() throws {
        var info = stat()
        #expect(fstat(2, &info) == 0)
        #expect(LogSettings.stderrIsJournal("\(info.st_dev):\(info.st_ino)"))
        #expect(!LogSettings.stderrIsJournal("\(info.st_dev):\(UInt64(info.st_ino) + 1)"))
        #expect(!LogSettings.stderrIsJournal(nil))
        #expect(!LogSettings.stderrIsJournal("garbage"))
    }
}
