import Foundation
import OrderdSupport
import Testing
import TestSupport
import OrderdOrders
// @testable: these tests read internals: OrderdStore (flushOutboxChanges).
@testable import OrderdStore

extension PostgresBackedSuites {
/// The outbox contract, on every store: tasks written with their order, leases, outcomes guarded by the lease
/// holder. SQLite always; PostgreSQL when `make test` started one (its own suite says why when not).
@Suite struct OutboxStoreTests {
    static let durable: [TaskKind] = [.sms, .audit]

    enum Driver: String, CaseIterable, Sendable {
        case sqlite, postgres
        static var available: [Driver] { TestPostgres.enabled ? allCases : [.sqlite] }
    }

    /// `record` does not wait: `flush` returns once what was recorded is written.
    typealias Flush = () throws -> Void

    /// Runs `body` with a new store whose orders get sms and audit tasks leased by `owner` for `lease`.
    static func withStore(
        _ driver: Driver, owner: String = "a", lease: Duration = .seconds(60),
        _ body: (any OrderStore & OutboxStore, Flush) throws -> Void
    ) throws {
        let insertion = OutboxInsertion(kinds: durable + [.stats], owner: owner, lease: lease)
        switch driver {
        case .sqlite:
            try withStoreDirectory { directory in
                let store = try SQLiteOrderStore(settings: StoreSettings(.store(in: directory)), outbox: insertion)
                defer { store.close() }
                // A blocking call on the writer runs after the changes queued before it, in a later transaction.
                try body(store) { _ = try store.claimDue(owner: "flush", limit: 1, nowMillis: 0, leaseUntilMillis: 0) }
            }
        case .postgres:
            let store = try PostgresOrderStore(settings: StoreSettings(try TestPostgres.freshDatabase()), outbox: insertion)
            defer { store.close() }
            try body(store) { #expect(store.flushOutboxChanges(), "the outbox change writer did not catch up in 10 s") }
        }
    }

    static func create(_ store: any OrderStore, _ number: Int) throws -> StoredOrder {
        try store.create(.sample(number), idempotency: nil, deadline: .inSeconds(10)).order
    }

    @Test(arguments: Driver.available) func aNewOrderGetsOneLeasedPendingTaskPerDurableKind(_ driver: Driver) throws {
        try Self.withStore(driver) { store, flush in
            let order = try Self.create(store, 1)
            let tasks = try store.tasks(in: nil, limit: 10)
            #expect(tasks.map(\.key) == [TaskKey(orderID: order.id, kind: .audit), TaskKey(orderID: order.id, kind: .sms)])
            #expect(tasks.allSatisfy { $0.state == .pending && $0.attempts == 0 && $0.leaseOwner == "a" })
            #expect(tasks.allSatisfy { $0.leaseUntilMillis == order.createdAtMillis + 60_000 })
            // Leased by its creator: nobody else may claim it while the lease runs.
            #expect(try store.claimDue(owner: "b", limit: 10, nowMillis: order.createdAtMillis + 1, leaseUntilMillis: .max).isEmpty)
            #expect(try store.counts() == OutboxCounts(pending: 2, dead: 0, pendingByKind: ["sms": 1, "audit": 1], oldestPendingMillis: order.createdAtMillis))
        }
    }

    @Test(arguments: Driver.available) func anExpiredLeaseIsTakenOverAndTheOldHolderCanNoLongerSettle(_ driver: Driver) throws {
        try Self.withStore(driver, lease: .seconds(1)) { store, flush in
            let order = try Self.create(store, 1)
            let later = order.createdAtMillis + 1_001
            let claimed = try store.claimDue(owner: "b", limit: 10, nowMillis: later, leaseUntilMillis: later + 5_000)
            #expect(Set(claimed.map(\.key.kind)) == [.sms, .audit])
            #expect(claimed.allSatisfy { $0.order == order && $0.attempts == 0 && $0.ageFromMillis == order.createdAtMillis })
            // The dead holder's late answer changes nothing; the new holder's does.
            let sms = TaskKey(orderID: order.id, kind: .sms)
            store.record(.done(sms, owner: "a", atMillis: later))
            try flush()
            #expect(try store.tasks(in: .done, limit: 10).isEmpty)
            store.record(.done(sms, owner: "b", atMillis: later))
            try flush()
            #expect(try store.tasks(in: .done, limit: 10).map(\.key) == [sms])
            #expect(try store.tasks(in: .done, limit: 10).first?.attempts == 1)
        }
    }

    @Test(arguments: Driver.available) func retryWaitsForItsTimeAndCountsTheAttempt(_ driver: Driver) throws {
        try Self.withStore(driver) { store, flush in
            let order = try Self.create(store, 1)
            let sms = TaskKey(orderID: order.id, kind: .sms)
            let now = order.createdAtMillis + 10
            store.record(.retry(sms, owner: "a", retryAtMillis: now + 500, error: "HTTP 503"))
            try flush()
            let pending = try store.tasks(in: .pending, limit: 10).first { $0.key == sms }
            #expect(pending?.attempts == 1 && pending?.lastError == "HTTP 503" && pending?.leaseOwner == nil)
            #expect(try store.claimDue(owner: "a", limit: 10, nowMillis: now + 499, leaseUntilMillis: now + 9_999).isEmpty)
            let due = try store.claimDue(owner: "a", limit: 10, nowMillis: now + 500, leaseUntilMillis: now + 9_999)
            #expect(due.map(\.key) == [sms] && due.first?.attempts == 1)
        }
    }

    @Test(arguments: Driver.available) func releasedTasksAreClaimableAtOnceOldestFirstUpToTheLimit(_ driver: Driver) throws {
        try Self.withStore(driver) { store, flush in
            let orders = try (1...5).map { try Self.create(store, $0) }
            let keys = orders.map { TaskKey(orderID: $0.id, kind: .sms) }
            store.record(.release(keys, owner: "a"))
            store.record(.release([TaskKey(orderID: orders[0].id, kind: .audit)], owner: "someone else"))  // not theirs
            try flush()
            let now = orders[4].createdAtMillis + 1
            let first = try store.claimDue(owner: "a", limit: 3, nowMillis: now, leaseUntilMillis: now + 60_000)
            #expect(first.map(\.key) == Array(keys[0..<3]))
            let rest = try store.claimDue(owner: "a", limit: 10, nowMillis: now, leaseUntilMillis: now + 60_000)
            #expect(rest.map(\.key) == Array(keys[3...]))
        }
    }

    @Test(arguments: Driver.available) func deadTasksAreKeptAndRetriedByHand(_ driver: Driver) throws {
        try Self.withStore(driver) { store, flush in
            let order = try Self.create(store, 1)
            let sms = TaskKey(orderID: order.id, kind: .sms)
            store.record(.dead(sms, owner: "a", atMillis: order.createdAtMillis + 5, error: "gave up after 1 attempts: HTTP 503"))
            try flush()
            let dead = try store.tasks(in: .dead, limit: 10)
            #expect(dead.map(\.key) == [sms] && dead.first?.lastError?.contains("HTTP 503") == true)
            #expect(try store.counts().dead == 1)
            let now = order.createdAtMillis + 1_000
            #expect(try store.retryDead(sms, nowMillis: now))
            #expect(try store.retryDead(sms, nowMillis: now) == false)  // pending now, not dead
            #expect(try store.retryDead(TaskKey(orderID: "nope", kind: .sms), nowMillis: now) == false)
            let claimed = try store.claimDue(owner: "b", limit: 10, nowMillis: now, leaseUntilMillis: now + 1)
            #expect(claimed.map(\.key) == [sms] && claimed.first?.attempts == 0 && claimed.first?.ageFromMillis == now)
        }
    }

    @Test(arguments: Driver.available) func renewingExtendsOnlyTheLeasesItNames(_ driver: Driver) throws {
        try Self.withStore(driver, lease: .seconds(1)) { store, flush in
            let order = try Self.create(store, 1)
            let sms = TaskKey(orderID: order.id, kind: .sms), audit = TaskKey(orderID: order.id, kind: .audit)
            // The sms lease is named with its holder's token; the audit one with a token it does not have.
            store.record(.renew(
                [TaskLease(key: sms, owner: "a"), TaskLease(key: audit, owner: "a/7")],
                untilMillis: order.createdAtMillis + 100_000))
            try flush()
            let rows = try store.tasks(in: nil, limit: 10)
            #expect(rows.first { $0.key == sms }?.leaseUntilMillis == order.createdAtMillis + 100_000)
            #expect(rows.first { $0.key == audit }?.leaseUntilMillis == order.createdAtMillis + 1_000)
            // The lease nobody renewed runs out and the task is claimed again, with a new token.
            let later = order.createdAtMillis + 2_000
            let claimed = try store.claimDue(owner: "a/8", limit: 10, nowMillis: later, leaseUntilMillis: later + 1)
            #expect(claimed.map(\.key) == [audit] && claimed.first?.owner == "a/8")
            // An outcome under the old token changes nothing; under the new one it is recorded.
            store.record(.done(audit, owner: "a", atMillis: later))
            try flush()
            #expect(try store.tasks(in: .done, limit: 10).isEmpty)
            store.record(.done(audit, owner: "a/8", atMillis: later))
            try flush()
            #expect(try store.tasks(in: .done, limit: 10).map(\.key) == [audit])
        }
    }

    @Test func taskIDsRoundTrip() {
        let key = TaskKey(orderID: "01a21aaa-3c87-727c-a5d9-e78e53bda2ad", kind: .webhook)
        #expect(TaskKey(key.description) == key)
        #expect(TaskKey("01a21aaa-3c87-727c-a5d9-e78e53bda2ad:stats") == nil)  // best-effort: no durable task
        #expect(TaskKey("no-kind") == nil)
    }
}
}
