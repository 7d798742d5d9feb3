import Foundation
// @testable: these tests read internals: OrderdSupport (SQLiteConnection); OrderdConfig (SQLiteConnection);
//  OrderdOrders (SQLiteConnection); OrderdStore (SQLiteConnection).
@testable import OrderdSupport
@testable import OrderdConfig
@testable import OrderdOrders
@testable import OrderdStore
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
                settings: StoreSettings(configuration), outbox: OutboxInsertion(kinds: [.sms, .audit], owner: "a", lease: .seconds(60)))
            var orders: [StoredOrder] = []
            let now = WallClock.unixMillis()
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

/// `orderd tasks retry --dead` selections, `tasks list --json`, and `orderd orders`, on a SQLite database.
@Suite struct OperatorCommandTests {
    typealias Fixture = TasksCommandTests.Fixture

    /// Orders 0, 1 and 3 have a dead SMS (1, 3 and 10 days ago); order 3's was throttled.
    static func fixture() throws -> Fixture {
        let fixture = try Fixture(deadDaysAgo: [1, 3, nil, 10])
        let raw = try SQLiteConnection(path: fixture.databasePath, readOnly: false)
        try raw.execute("UPDATE tasks SET last_error = 'throttled: test' WHERE order_id = '\(fixture.orders[3].id)' AND kind = 'sms'")
        raw.close()
        return fixture
    }

    static func jsonLines(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test func retryDeadSelectsByKindAndAgeOldestFirstAndLeavesThrottledSMSDead() throws {
        let fixture = try Self.fixture()
        func count(_ arguments: [String]) throws -> String {
            let run = try fixture.orderd(["tasks", "retry", "--dead", "--dry-run"] + arguments)
            #expect(run.status == 0, "\(run.output)")
            return String(run.output.prefix { $0 != " " })
        }
        #expect(try count(["--kind", "webhook"]) == "0")
        #expect(try count(["--since", "2d"]) == "1")
        #expect(try count([]) == "2")
        #expect(try count(["--include-throttled"]) == "3")

        let one = try fixture.orderd(["tasks", "retry", "--dead", "--limit", "1"])
        #expect(one.status == 0 && one.output.contains("1 dead tasks pending again"), "\(one.output)")
        // Oldest death first: order 1's (3 days ago) before order 0's (1 day ago).
        var dead = Self.jsonLines(try fixture.orderd(["tasks", "list", "--dead", "--json"]).output)
        #expect(Set(dead.compactMap { $0["order_id"] as? String }) == [fixture.orders[0].id, fixture.orders[3].id])

        let rest = try fixture.orderd(["tasks", "retry", "--dead"])
        #expect(rest.output.contains("1 dead tasks pending again"), "\(rest.output)")
        dead = Self.jsonLines(try fixture.orderd(["tasks", "list", "--state", "dead", "--json"]).output)
        #expect(dead.count == 1)
        #expect(dead.first?["last_error"] as? String == "throttled: test")
        #expect(dead.first?["id"] as? String == "\(fixture.orders[3].id):sms")

        let pendingSMS = Self.jsonLines(try fixture.orderd(["tasks", "list", "--state", "pending", "--kind", "sms", "--json"]).output)
        #expect(pendingSMS.count == 3)
        #expect(pendingSMS.allSatisfy { $0["kind"] as? String == "sms" && $0["attempts"] as? Int == 0 })
    }

    @Test(arguments: [
        (["tasks", "retry"], "Give task ids"),
        (["tasks", "retry", "--dead", "x:sms"], "not both"),
        (["tasks", "retry", "x:sms", "--kind", "sms"], "go with --dead"),
        (["tasks", "retry", "--dead", "--since", "soon"], "--since must be a duration"),
        (["tasks", "list", "--state", "lost"], "lost"),
        (["tasks", "list", "--dead", "--state", "pending"], "contradict"),
        (["orders", "list", "--limit", "0"], "--limit must be"),
    ])
    func badUsageExits64WithAMessage(_ arguments: [String], _ message: String) throws {
        let fixture = try Fixture(deadDaysAgo: [nil])
        let run = try fixture.orderd(arguments)
        #expect(run.status == 64, "\(run.output)")
        #expect(run.output.contains(message), "\(run.output)")
    }

    @Test func ordersAreListedAPageAtATimeWithContactDetailsMasked() throws {
        let fixture = try Self.fixture()
        let phone = "+8613800138000"
        let all = try fixture.orderd(["orders", "list"])
        #expect(all.status == 0, "\(all.output)")
        #expect(!all.output.contains(phone) && all.output.contains(Redact.phone(phone)))
        #expect(fixture.orders.allSatisfy { all.output.contains($0.id) })
        #expect(all.output.contains("4 orders"))

        let first = try fixture.orderd(["orders", "list", "--limit", "2"])
        let next = try #require(first.output.split(separator: "\n").last { $0.hasPrefix("more: ") })
        #expect(next.hasSuffix("--after \(fixture.orders[1].id) --limit 2"))
        let second = try fixture.orderd(["orders", "list", "--limit", "2", "--after", fixture.orders[1].id, "--json"])
        #expect(Self.jsonLines(second.output).compactMap { $0["id"] as? String } == [fixture.orders[2].id, fixture.orders[3].id])

        let clear = try fixture.orderd(["orders", "list", "--show-pii", "--json"])
        #expect(Self.jsonLines(clear.output).allSatisfy { ($0["customer"] as? [String: Any])?["phone"] as? String == phone })

        let shown = try fixture.orderd(["orders", "show", fixture.orders[0].id])
        let object = try #require(Self.jsonLines(shown.output).first)
        #expect(object["id"] as? String == fixture.orders[0].id)
        #expect(object["created_by"] is NSNull)
        #expect((object["customer"] as? [String: Any])?["phone"] as? String == Redact.phone(phone))

        let missing = try fixture.orderd(["orders", "show", "0190a000-0000-7000-8000-000000000000"])
        #expect(missing.status == 65 && missing.output.contains("no order with id"))
    }
}
