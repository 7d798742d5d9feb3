import Foundation
@testable import OrderdCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `orderd tasks` binary on a SQLite database: it never migrates or checkpoints, refuses another schema
/// version with a message and a non-zero exit, and purges dead tasks by hand.
@Suite struct TasksCommandTests {
    /// A directory with an INI file pointing at `orderd.db`, and three orders written through the real store.
    final class Fixture {
        let dir: String
        var configPath: String { dir + "/orderd.ini" }
        var databasePath: String { dir + "/orderd.db" }
        let orders: [StoredOrder]

        /// `dead[i]`: order i's sms task dies that many days ago (nil: it stays pending).
        init(deadDaysAgo dead: [Int?]) throws {
            var template = Array("/tmp/orderd-tasks-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw RawHTTP.Failure(description: "mkdtemp failed") }
            let directory = String(cString: made)
            dir = directory
            try "[store]\npath = \(directory)/orderd.db\n[task.audit]\npath = \(directory)/audit.log\n"
                .write(toFile: directory + "/orderd.ini", atomically: true, encoding: .utf8)
            var configuration = OrderdConfiguration()
            configuration.store.path = directory + "/orderd.db"
            let store = try SQLiteOrderStore(
                configuration: configuration, outbox: OutboxInsertion(kinds: [.sms, .audit], owner: "a", lease: .seconds(60)))
            var orders: [StoredOrder] = []
            let now = SQLiteOrderStore.unixMillis()
            for (index, days) in dead.enumerated() {
                let order = try store.create(
                    NewOrder(customer: Customer(phone: "+8613800138000"), currency: "EUR",
                             items: [OrderItem(sku: "SKU-\(index)", quantity: 1, unitPriceCents: 100)], note: nil, totalCents: 100),
                    idempotency: nil, deadline: .now + .seconds(10)).order
                orders.append(order)
                if let days {
                    store.record(.dead(TaskKey(orderID: order.id, kind: .sms), owner: "a",
                                       atMillis: now - Int64(days) * 86_400_000, error: "HTTP 400"))
                }
            }
            store.close()  // writes the queued outcomes first
            self.orders = orders
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }

        func orderd(_ arguments: [String]) throws -> (status: Int32, output: String) {
            try Stack.run("/usr/bin/timeout", ["60", Stack.binary] + arguments + ["--config", configPath])
        }

        func userVersion() throws -> Int64? {
            let connection = try SQLiteConnection(path: databasePath, readOnly: true)
            defer { connection.close() }
            return try connection.scalarInt("PRAGMA user_version")
        }
    }

    @Test(arguments: [
        ["tasks", "list"], ["tasks", "list", "--dead"], ["tasks", "retry", "0190a000-0000-7000-8000-000000000000:sms"],
        ["tasks", "purge", "--dead", "--older-than", "30d"],
    ], [1, 99])
    func aDatabaseOfAnotherSchemaVersionIsRefused(_ command: [String], _ version: Int) throws {
        let fixture = try Fixture(deadDaysAgo: [nil])
        do {
            let raw = try SQLiteConnection(path: fixture.databasePath, readOnly: false)
            try raw.execute("PRAGMA user_version = \(version)")
            raw.close()
        }
        let run = try fixture.orderd(command)
        #expect(run.status != 0, "\(run.output)")
        #expect(run.output.contains("The database \(fixture.databasePath) has schema version \(version)"), "\(run.output)")
        #expect(run.output.contains(version < SQLiteSchema.migrations.count ? "never migrates" : "newer than this orderd's"), "\(run.output)")
        #expect(try fixture.userVersion() == Int64(version), "the CLI migrated the database")
    }

    /// A writer (standing in for the running daemon) has commits in the WAL; `tasks list` shows them and leaves
    /// the database file and the WAL byte for byte as they were.
    @Test func listLeavesTheDatabaseAndTheWALUntouched() throws {
        let fixture = try Fixture(deadDaysAgo: [nil, nil])
        let writer = try SQLiteConnection(path: fixture.databasePath, readOnly: false)
        defer { writer.close() }
        try writer.execute("PRAGMA wal_autocheckpoint = 0")
        try writer.execute("UPDATE tasks SET state = 'dead', finished_at_ms = 1, last_error = 'in the WAL only' WHERE kind = 'sms'")
        let database = try Data(contentsOf: URL(fileURLWithPath: fixture.databasePath))
        let wal = try Data(contentsOf: URL(fileURLWithPath: fixture.databasePath + "-wal"))

        let run = try fixture.orderd(["tasks", "list"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("in the WAL only"))
        #expect(run.output.contains("outbox: 2 pending"), "\(run.output)")
        #expect(run.output.contains("0 done, 2 dead"), "\(run.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.databasePath)) == database, "the database file changed")
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.databasePath + "-wal")) == wal, "the WAL changed")
    }

    @Test func purgeDeletesTheDeadTasksOlderThanAskedAndNothingElse() throws {
        let fixture = try Fixture(deadDaysAgo: [40, 31, 2, nil])
        let run = try fixture.orderd(["tasks", "purge", "--dead", "--older-than", "30d"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("2 dead tasks deleted"), "\(run.output)")
        let list = try fixture.orderd(["tasks", "list", "--limit", "100"])
        #expect(list.status == 0, "\(list.output)")
        #expect(!list.output.contains("\(fixture.orders[0].id):sms") && !list.output.contains("\(fixture.orders[1].id):sms"))
        func state(_ order: StoredOrder) -> String? {
            list.output.split(separator: "\n").first { $0.hasPrefix("\(order.id):sms ") }?
                .split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
        }
        #expect(state(fixture.orders[2]) == "dead", "\(list.output)")
        #expect(state(fixture.orders[3]) == "pending", "\(list.output)")
        #expect(list.output.contains("outbox: 5 pending"), "\(list.output)")  // four audits and one sms
        #expect(list.output.contains("1 dead"), "\(list.output)")
        // Again: nothing left that old.
        let again = try fixture.orderd(["tasks", "purge", "--dead", "--older-than", "30d"])
        #expect(again.status == 0 && again.output.contains("0 dead tasks deleted"), "\(again.output)")
    }

    @Test(arguments: [
        (["tasks", "purge", "--older-than", "30d"], "--dead"),
        (["tasks", "purge", "--dead", "--older-than", "30"], "--older-than must be a duration"),
        (["tasks", "purge", "--dead"], "--older-than"),
    ])
    func purgeRefusesAnIncompleteCommand(_ command: [String], _ message: String) throws {
        let fixture = try Fixture(deadDaysAgo: [40])
        let run = try fixture.orderd(command)
        #expect(run.status != 0, "\(run.output)")
        #expect(run.output.contains(message), "\(run.output)")
        // Nothing was deleted.
        #expect(try fixture.orderd(["tasks", "list", "--dead"]).output.contains("\(fixture.orders[0].id):sms"))
    }
}
