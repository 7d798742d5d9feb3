import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The audit file under logrotate: renamed, then SIGHUP, and the next lines go to a new file at the path; the
/// shipped logrotate config parses and names the path the shipped INI uses.
@Suite(.timeLimit(.minutes(10)))
struct AuditRotationTests {
    static func auditLines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func aSIGHUPAfterTheRenameOpensANewFileAndLosesNoLine() throws {
        try withRunningStack { stack in
            let pid = try #require(stack.orderd?.processIdentifier)
            let before = try FollowUpIntegrationTests.createOrder(stack, "before the rotation")
            #expect(pollUntil(.seconds(30)) { Self.auditLines(stack.auditPath).contains { $0.contains(before) } })
            let rotated = stack.auditPath + ".1"
            #expect(rename(stack.auditPath, rotated) == 0)
            // Written after the rename, before the reload: it goes to the renamed file, which is still open.
            let between = try FollowUpIntegrationTests.createOrder(stack, "between rename and reload")
            #expect(pollUntil(.seconds(30)) { Self.auditLines(rotated).contains { $0.contains(between) } })
            kill(pid, SIGHUP)
            #expect(pollUntil(.seconds(30)) { FileManager.default.fileExists(atPath: stack.auditPath) })
            let after = try FollowUpIntegrationTests.createOrder(stack, "after the reload")
            #expect(pollUntil(.seconds(30)) { Self.auditLines(stack.auditPath).contains { $0.contains(after) } })
            #expect(!Self.auditLines(rotated).contains { $0.contains(after) })
            #expect(!stack.orderdLog.contains("audit file not reopened"))
        }
    }

    @Test func theShippedLogrotateConfigParses() throws {
        let logrotate = ["/usr/sbin/logrotate", "/sbin/logrotate"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let logrotate else {
            print("skipped: logrotate is not installed (scripts/deps.sh installs it)")
            return
        }
        let config = Stack.repo + "/deploy/logrotate/orderd"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("logrotate-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Stack.run(logrotate, ["--debug", "--state", dir + "/state", config])
        #expect(result.status == 0, "\(result.output)")
        #expect(!result.output.contains("error:"), "\(result.output)")
        let shipped = try String(contentsOfFile: Stack.repo + "/config/orderd.ini", encoding: .utf8)
        #expect(shipped.contains(";path = /var/lib/orderd/audit.log"))
        #expect(try String(contentsOfFile: config, encoding: .utf8).contains("/var/lib/orderd/audit.log {"))
    }
}
