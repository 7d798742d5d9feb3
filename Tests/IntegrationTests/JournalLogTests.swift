import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// orderd under journald, without systemd: `$JOURNAL_STREAM` names the file its stderr goes to, as systemd
/// names the journal's stream, and every line must start with its syslog priority.
@Suite(.timeLimit(.minutes(10)))
struct JournalLogTests {
    @Test func linesCarryTheirSyslogPriorityWhenStderrIsTheJournal() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        _ = FileManager.default.createFile(atPath: stack.orderdLogPath, contents: nil)
        var info = stat()
        #expect(stat(stack.orderdLogPath, &info) == 0)
        try stack.start(extraEnvironment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino)"])
        let pid = try #require(stack.orderd?.processIdentifier)
        #expect(try RawHTTP.request("GET", "/healthz", port: stack.port).status == 200)

        // A restart-only key changed: a warning; then a file that does not parse: errors.
        try stack.rewriteConfig(["server": ["request_workers": "5"]])
        kill(pid, SIGHUP)
        #expect(pollUntil(.seconds(30)) { stack.orderdLog.contains("needs a restart") })
        try "[server]\nrequest_workers = many\n".write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        kill(pid, SIGHUP)
        #expect(pollUntil(.seconds(30)) { stack.orderdLog.contains("reload refused") })

        let lines = stack.orderdLog.split(separator: "\n").map(String.init)
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line.range(of: #"^<[2-7]>ts="#, options: .regularExpression) != nil, "\(line)")
        }
        func priority(of message: String) -> [Substring] {
            lines.filter { $0.contains(message) }.map { $0.prefix(3) }
        }
        #expect(priority(of: "msg=\"orderd serving\"").allSatisfy { $0 == "<5>" })
        #expect(!priority(of: "msg=request ").isEmpty && priority(of: "msg=request ").allSatisfy { $0 == "<6>" })
        #expect(!priority(of: "needs a restart").isEmpty && priority(of: "needs a restart").allSatisfy { $0 == "<4>" })
        #expect(!priority(of: "reload refused").isEmpty && priority(of: "reload refused").allSatisfy { $0 == "<3>" })
    }

    @Test func withoutTheJournalLinesHaveNoPrefix() throws {
        try withRunningStack { stack in
            let status = try RawHTTP.request("GET", "/healthz", port: stack.port).status
            #expect(status == 200)
            #expect(pollUntil(.seconds(10)) { stack.orderdLog.contains("msg=request ") })
            #expect(stack.orderdLog.split(separator: "\n").allSatisfy { $0.hasPrefix("ts=") })
        }
    }
}
