import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `orderd backup` while orders keep coming: the copy holds every order acknowledged before the backup
/// started, and an orderd started on the restored copy serves each of them.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct BackupTests {
    @Test func aBackupUnderLoadHoldsEveryOrderAcknowledgedBeforeIt() throws {
        let backup: String
        var ackedBefore: [String] = []
        var ackedDuring = 0
        do {
            let stack = try Stack()
            defer { stack.shutdown() }
            try stack.start()
            let acknowledged = Locked<[String]>([])
            let stop = Locked(false)
            let writers = DispatchGroup()
            for writer in 0..<4 {
                DispatchQueue.global().async(group: writers) {
                    var n = 0
                    while !stop.value {
                        n += 1
                        if let id = try? FollowUpIntegrationTests.createOrder(stack, "backup-\(writer)-\(n)") {
                            acknowledged.mutate { $0.append(id) }
                        }
                    }
                }
            }
            #expect(pollUntil(.seconds(60)) { acknowledged.value.count >= 200 })
            ackedBefore = acknowledged.value
            backup = stack.dir + "/backup.db"
            let result = try Stack.run(Stack.binary, ["backup", "--config", stack.configPath, "--to", backup])
            let countAfter = acknowledged.value.count
            stop.mutate { $0 = true }
            writers.wait()
            ackedDuring = countAfter - ackedBefore.count
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("checked"), "\(result.output)")
            print("backup under load: \(ackedBefore.count) orders before it, \(ackedDuring) acknowledged while it ran: \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))")
            // A second backup to the same file is refused, never overwrites.
            let again = try Stack.run(Stack.binary, ["backup", "--config", stack.configPath, "--to", backup])
            #expect(again.status != 0 && again.output.contains("exists"))

            // Restore: the copy alone (no -wal beside it) into a fresh stack's store path.
            #expect(!FileManager.default.fileExists(atPath: backup + "-wal"))
            let restored = try Stack()
            defer { restored.shutdown() }
            try FileManager.default.copyItem(atPath: backup, toPath: restored.databasePath)
            try restored.start()
            var missing: [String] = []
            for id in ackedBefore {
                let status = try RawHTTP.request("GET", "/orders/\(id)", port: restored.port).status
                if status != 200 { missing.append("\(id): \(status)") }
            }
            #expect(missing.isEmpty, "\(missing.count) acknowledged orders missing from the restored copy: \(missing.prefix(5))")
        }
    }
}
