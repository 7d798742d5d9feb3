import Foundation
import Synchronization
import OrderdSupport
import Testing
import TestSupport
import OrderdConfig
import OrderdOrders
// @testable: these tests read internals: OrderdStore (RecipientRows, RecipientThrottle, writeStep).
@testable import OrderdStore

/// `task.sms.per_recipient`: the decision on a table, then both stores, where the count lives.
@Suite struct RecipientThrottleTests {
    static let hour = RecipientLimit(count: 3, window: .seconds(3600))

    static let admissions: [([Int64], Int64, [Int64]?)] = [
        // (sent before, now, kept afterwards or nil when throttled)
        ([], 10_000, [10_000]),
        ([1_000, 2_000], 10_000, [1_000, 2_000, 10_000]),
        ([1_000, 2_000, 3_000], 10_000, nil),
        // The oldest left the window (now - 1h): room for one, and the stale time is dropped.
        ([1_000, 2_000, 3_000], 3_601_000, [2_000, 3_000, 3_601_000]),
        // Exactly one window old is out of it.
        ([1_000], 3_601_000, [3_601_000]),
        ([5_000, 1_000], 10_000, [1_000, 5_000, 10_000]),
    ]

    @Test(arguments: admissions)
    func admitsWhileFewerThanTheLimitAreInTheWindow(sent: [Int64], now: Int64, kept: [Int64]?) {
        #expect(RecipientThrottle.admit(sent, nowMillis: now, limit: Self.hour) == kept)
    }

    @Test func theKeyIsTheSHA256OfTheNumberNotTheNumber() {
        let key = RecipientThrottle.key(phone: "+8613800138000")
        #expect(key.count == 32)
        #expect(Hex.encode(key) == "ec61f3c620a98bdead8c1f1f0ae747abd1b62a0c2dba4fd4bc22cf0d1d8653e5")
        #expect(key != RecipientThrottle.key(phone: "+8613800138001"))
        #expect(RecipientRows.decode(RecipientRows.encode([1, 22, 333])) == [1, 22, 333])
    }

    @Test(arguments: [
        ("5/1h", RecipientLimit(count: 5, window: .seconds(3600)) as RecipientLimit?),
        ("1/1s", RecipientLimit(count: 1, window: .seconds(1))),
        ("10000/30d", RecipientLimit(count: 10_000, window: .seconds(30 * 86_400))),
        ("off", nil),
        ("0", nil),
    ])
    func perRecipientParsesAndRendersBack(text: String, limit: RecipientLimit?) throws {
        let configuration = try ConfigLoader.parse(text: "[task.sms]\nper_recipient = \(text)\n", file: "/t.ini")
        #expect(configuration.sms.perRecipient == limit)
        let again = try ConfigLoader.parse(text: configuration.renderINI(), file: "/t.ini")
        #expect(again.sms.perRecipient == limit)
    }

    @Test(arguments: ["5", "5/", "/1h", "0/1h", "10001/1h", "5/0s", "5/31d", "5/1", "-1/1h", "five/1h", "5/1h/2", "on"])
    func perRecipientRefusesWhatItCannotRead(text: String) {
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(text: "[task.sms]\nper_recipient = \(text)\n", file: "/t.ini")
        }
        #expect(error?.description.contains("Invalid value '\(text)' for 'task.sms.per_recipient' in /t.ini line 2; expected a count from 1 to 10000") == true)
    }

    @Test func theDefaultIsFivePerHour() {
        #expect(OrderdConfiguration().sms.perRecipient == RecipientLimit(count: 5, window: .seconds(3600)))
        #expect(OrderdConfiguration().renderINI().contains("per_recipient = 5/1h"))
    }
}

extension PostgresBackedSuites {
/// The count in the store, on both stores: a throttled order is stored, its SMS task dead `throttled` and never
/// leased; other numbers are not affected; the window moves with the clock.
@Suite struct RecipientThrottleStoreTests {
    typealias Driver = OutboxStoreTests.Driver

    /// A store whose orders get sms and audit tasks, `limit` SMS per recipient, on `clock`.
    static func withStore(
        _ driver: Driver, limit: RecipientLimit, clock: ManualWallClock,
        _ body: (any OrderStore & OutboxStore, _ sql: (String) throws -> String) throws -> Void
    ) throws {
        let insertion = OutboxInsertion(kinds: [.sms, .audit], owner: "a", lease: .seconds(60), perRecipient: limit)
        switch driver {
        case .sqlite:
            try withStoreDirectory { directory in
                let configuration = OrderdConfiguration.store(in: directory)
                let store = try SQLiteOrderStore(
                    store: configuration.store, idempotencyTTL: .seconds(60), writeSteps: [insertion.writeStep],
                    wallClock: { clock.now })
                defer { store.close() }
                try body(store) { sql in try sqlite(configuration.store.path, sql) }
            }
        case .postgres:
            let configuration = try TestPostgres.freshDatabase()
            let store = try PostgresOrderStore(settings: StoreSettings(configuration), outbox: insertion, wallClock: { clock.now })
            defer { store.close() }
            try body(store) { sql in try TestPostgres.psql(sql, url: configuration.store.url) }
        }
    }

    /// What the `sqlite3` shell prints for `sql`; its message as the error when it fails.
    static func sqlite(_ path: String, _ sql: String) throws -> String {
        let (status, output) = try runCommand("/usr/bin/env", ["sqlite3", path, sql])
        guard status == 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "sqlite3: \(output)"]) }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(arguments: Driver.available) func overTheLimitTheOrderIsStoredAndItsSMSTaskIsDeadThrottled(_ driver: Driver) throws {
        let clock = ManualWallClock(millis: 1_750_000_000_000)
        try Self.withStore(driver, limit: RecipientLimit(count: 3, window: .seconds(3600)), clock: clock) { store, sql in
            var orders: [StoredOrder] = []
            for _ in 0..<5 {
                orders.append(try store.create(.sample(1), idempotency: nil, deadline: .inSeconds(10)).order)
                clock.advance(by: 1_000)
            }
            let other = try store.create(.sample(2), idempotency: nil, deadline: .inSeconds(10)).order
            #expect(orders.map(\.smsThrottled) == [false, false, false, true, true])
            #expect(!other.smsThrottled)
            for order in orders { #expect(try store.order(id: order.id)?.order == order.order) }
            let tasks = try store.tasks(in: nil, limit: 100)
            let sms = Dictionary(uniqueKeysWithValues: tasks.filter { $0.kind == "sms" }.map { ($0.orderID, $0) })
            for order in orders.prefix(3) + [other] {
                #expect(sms[order.id]?.state == .pending && sms[order.id]?.leaseOwner == "a")
            }
            for order in orders.suffix(2) {
                let task = sms[order.id]
                #expect(task?.state == .dead && task?.leaseOwner == nil && task?.attempts == 0)
                #expect(task?.finishedAtMillis == order.createdAtMillis)
                #expect(task?.lastError?.hasPrefix("throttled: 3 SMS to this recipient within 1h") == true)
            }
            // The other kinds are not affected.
            #expect(tasks.filter { $0.kind == "audit" }.allSatisfy { $0.state == .pending })
            // Dead and unleased: no claim ever hands a throttled task out.
            let claimed = try store.claimDue(owner: "b", limit: 100, nowMillis: clock.now + 120_000, leaseUntilMillis: .max)
            #expect(Set(claimed.filter { $0.key.kind == .sms }.map(\.key.orderID)) == Set(orders.prefix(3).map(\.id) + [other.id]))
            // One row per recipient, no number in it.
            #expect(try sql("SELECT count(*) FROM sms_recipients") == "2")
            #expect(!(try sql("SELECT * FROM sms_recipients")).contains("138"))
        }
    }

    @Test(arguments: Driver.available) func theWindowSlides(_ driver: Driver) throws {
        let clock = ManualWallClock(millis: 1_750_000_000_000)
        try Self.withStore(driver, limit: RecipientLimit(count: 2, window: .seconds(60)), clock: clock) { store, _ in
            var throttled: [Bool] = []
            // (advance the clock by, then order): t = 0, 30 s, 30 s, 60 s, 60 s, 121 s, 121 s, 121 s.
            for advance: Int64 in [0, 30_000, 0, 30_000, 0, 61_000, 0, 0] {
                clock.advance(by: advance)
                throttled.append(try store.create(.sample(1), idempotency: nil, deadline: .inSeconds(10)).order.smsThrottled)
            }
            // Two within the last minute, then the first leaves the window, and later both do.
            #expect(throttled == [false, false, true, false, true, false, false, true])
        }
    }

    @Test(arguments: Driver.available) func aReplayedIdempotencyKeyCountsOnce(_ driver: Driver) throws {
        let clock = ManualWallClock(millis: 1_750_000_000_000)
        try Self.withStore(driver, limit: RecipientLimit(count: 1, window: .seconds(3600)), clock: clock) { store, _ in
            let request = IdempotencyRequest(key: "k", body: [1])
            let first = try store.create(.sample(1), idempotency: request, deadline: .inSeconds(10))
            let replay = try store.create(.sample(1), idempotency: request, deadline: .inSeconds(10))
            #expect(first.order.id == replay.order.id && !first.order.smsThrottled)
            #expect(try store.create(.sample(1), idempotency: nil, deadline: .inSeconds(10)).order.smsThrottled)
        }
    }

    @Test(arguments: Driver.available) func staleRecipientsAreForgottenAsOrdersComeIn(_ driver: Driver) throws {
        let clock = ManualWallClock(millis: 1_750_000_000_000)
        try Self.withStore(driver, limit: RecipientLimit(count: 5, window: .seconds(3600)), clock: clock) { store, sql in
            for number in 0..<4 { _ = try store.create(.sample(number), idempotency: nil, deadline: .inSeconds(10)) }
            #expect(try sql("SELECT count(*) FROM sms_recipients") == "4")
            clock.advance(by: RecipientThrottle.forgetAfter.millis + 1)
            _ = try store.create(.sample(10), idempotency: nil, deadline: .inSeconds(10))  // adds one, forgets two
            #expect(try sql("SELECT count(*) FROM sms_recipients") == "3")
            _ = try store.create(.sample(10), idempotency: nil, deadline: .inSeconds(10))  // forgets the last two
            #expect(try sql("SELECT count(*) FROM sms_recipients") == "1")
        }
    }

    /// Two instances on one database, eight threads each, all ordering to one number at once: exactly `count`
    /// SMS tasks are pending, however the statements interleave (the recipient's row lock serializes them).
    @Test(.enabled(if: TestPostgres.enabled, TestPostgres.comment))
    func theLimitIsExactAcrossInstancesOnPostgreSQL() throws {
        let configuration = try TestPostgres.freshDatabase()
        let limit = RecipientLimit(count: 5, window: .seconds(3600))
        let stores = try ["a", "b"].map { owner in
            try PostgresOrderStore(
                settings: StoreSettings(configuration),
                outbox: OutboxInsertion(kinds: [.sms, .audit], owner: owner, lease: .seconds(60), perRecipient: limit))
        }
        defer { for store in stores { store.close() } }
        let throttled = Mutex([Bool]())
        let failures = Mutex([String]())
        DispatchQueue.concurrentPerform(iterations: 40) { index in
            do {
                let order = try stores[index % 2].create(.sample(7), idempotency: nil, deadline: .inSeconds(20)).order
                throttled.withLock { $0.append(order.smsThrottled) }
            } catch {
                failures.withLock { $0.append(String(reflecting: error)) }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(throttled.withLock { $0.count } == 40)
        #expect(throttled.withLock { $0.filter { !$0 }.count } == 5)
        #expect(try TestPostgres.psql("SELECT count(*) FROM tasks WHERE kind = 'sms' AND state = 'pending'", url: configuration.store.url) == "5")
        #expect(try TestPostgres.psql("SELECT count(*) FROM tasks WHERE kind = 'sms' AND state = 'dead'", url: configuration.store.url) == "35")
        #expect(try TestPostgres.psql("SELECT count(*) FROM orders", url: configuration.store.url) == "40")
    }
}
}
