import Foundation
import Testing
import TestSupport
import OrderdSupport
import OrderdConfig
// @testable: these tests read internals: OrderdStore (SQLiteOutboxAdministration, Tuning, flushOutboxChanges).
@testable import OrderdStore

extension PostgresBackedSuites {
/// `outbox.retention`: done tasks go once they are older than it, in the background; pending and dead ones
/// stay. On SQLite (the writer thread, between batches) and PostgreSQL (a background statement).
@Suite struct OutboxRetentionTests {
    typealias Driver = OutboxStoreTests.Driver

    /// `orderd tasks purge`'s call: dead tasks that died before the first argument, batches of the second.
    typealias Purge = (Int64, Int) throws -> Int

    /// A store with `retention` whose background pass runs every 50 ms (production: every 10 s), and the
    /// purge as `orderd tasks` runs it beside it (on SQLite through a connection of its own).
    /// `async`, for the test that waits for the background pass (see `pollUntil`).
    static func withStore(
        _ driver: Driver, retention: Duration,
        _ body: (any OrderStore & OutboxStore, OutboxStoreTests.Flush, Purge) async throws -> Void
    ) async throws {
        let insertion = OutboxInsertion(kinds: OutboxStoreTests.durable, owner: "a", lease: .seconds(60))
        switch driver {
        case .sqlite:
            try await withStoreDirectory { directory in
                var tuning = SQLiteOrderStore.Tuning()
                tuning.writer.retentionInterval = .milliseconds(50)
                let configuration = OrderdConfiguration.store(in: directory)
                let store = try SQLiteOrderStore(
                    store: configuration.store, idempotencyTTL: .seconds(3600), writeSteps: [insertion.writeStep],
                    tuning: tuning, retention: retention)
                defer { store.close() }
                try await body(store, { _ = try store.claimDue(owner: "flush", limit: 1, nowMillis: 0, leaseUntilMillis: 0) }) {
                    let administration = try SQLiteOutboxAdministration(store: configuration.store, writable: true)
                    defer { administration.close() }
                    return try administration.purgeDead(finishedBeforeMillis: $0, batchSize: $1)
                }
            }
        case .postgres:
            var configuration = try TestPostgres.freshDatabase()
            configuration.outbox.retention = retention
            let store = try PostgresOrderStore(settings: StoreSettings(configuration), outbox: insertion, retentionInterval: .milliseconds(50))
            defer { store.close() }
            try await body(store, { #expect(store.flushOutboxChanges(), "the outbox change writer did not catch up in 10 s") }) {
                try store.purgeDead(finishedBeforeMillis: $0, batchSize: $1)
            }
        }
    }

    @Test(arguments: Driver.available)
    func doneTasksPastTheRetentionAreDeletedPendingAndDeadStay(_ driver: Driver) async throws {
        try await Self.withStore(driver, retention: .seconds(1)) { store, flush, _ in
            let orders = try (1...6).map { try OutboxStoreTests.create(store, $0) }
            let now = WallClock.unixMillis()
            for order in orders[0..<3] {
                for kind in OutboxStoreTests.durable {
                    store.record(.done(TaskKey(orderID: order.id, kind: kind), owner: "a", atMillis: now))
                }
            }
            let dead = TaskKey(orderID: orders[3].id, kind: .sms)
            store.record(.dead(dead, owner: "a", atMillis: now, error: "HTTP 400"))
            try flush()
            // Bounded wait for the outcome, never a timing figure: the six done tasks go once a second has passed.
            var counts = try store.counts(includingDone: true)
            _ = try await pollUntil(.seconds(60)) {
                counts = try store.counts(includingDone: true)
                return counts.done == 0
            }
            #expect(counts.done == 0, "done tasks still there after 60 s: \(counts)")
            #expect(counts.pending == 5 && counts.dead == 1, "\(counts)")
            let left = try store.tasks(in: nil, limit: 100)
            #expect(left.count == 6)
            #expect(left.filter { $0.state == .dead }.map(\.key) == [dead])
            #expect(Set(left.map(\.orderID)) == Set(orders[3...].map(\.id)))
        }
    }

    /// Under a steady stream of orders the writer is never idle: the retention DELETE rides in the orders' own
    /// transactions, and still empties the done tasks while the orders keep coming.
    @Test func underLoadTheDeleteRidesInTheOrdersTransactions() async throws {
        try await Self.withStore(.sqlite, retention: .seconds(1)) { store, flush, _ in
            let orders = try (1...50).map { try OutboxStoreTests.create(store, $0) }
            let now = WallClock.unixMillis()
            for order in orders {
                for kind in OutboxStoreTests.durable { store.record(.done(TaskKey(orderID: order.id, kind: kind), owner: "a", atMillis: now)) }
            }
            try flush()
            #expect(try store.counts(includingDone: true).done == 100)
            // Orders keep coming (each its own batch) until the done ones are gone: bounded, never timed.
            let deadline = ContinuousClock.now + .seconds(60)
            var number = 1_000
            while (try store.counts(includingDone: true).done ?? 0) > 0 && ContinuousClock.now < deadline {
                number += 1
                _ = try OutboxStoreTests.create(store, number)
            }
            #expect(try store.counts(includingDone: true).done == 0)
            #expect(try store.counts().pending == 2 * (number - 1_000))
        }
    }

    /// Dead tasks are purged by hand (`orderd tasks purge --dead --older-than`), oldest first, in batches; the
    /// ones that died later and every other state stay.
    @Test(arguments: Driver.available)
    func purgeDeletesOnlyDeadTasksOlderThanTheCutoff(_ driver: Driver) async throws {
        try await Self.withStore(driver, retention: .zero) { store, flush, purge in
            let orders = try (1...5).map { try OutboxStoreTests.create(store, $0) }
            let now = WallClock.unixMillis()
            let day: Int64 = 86_400_000
            for (index, order) in orders[0..<3].enumerated() {
                store.record(.dead(TaskKey(orderID: order.id, kind: .sms), owner: "a", atMillis: now - 40 * day + Int64(index), error: "old"))
            }
            store.record(.dead(TaskKey(orderID: orders[3].id, kind: .sms), owner: "a", atMillis: now - day, error: "recent"))
            store.record(.done(TaskKey(orderID: orders[4].id, kind: .sms), owner: "a", atMillis: now - 40 * day))
            try flush()
            // A batch of 2: three old dead tasks take two statements.
            #expect(try purge(now - 30 * day, 2) == 3)
            let left = try store.tasks(in: .dead, limit: 10)
            #expect(left.map(\.key) == [TaskKey(orderID: orders[3].id, kind: .sms)])
            // Retention zero keeps done tasks, however old.
            let counts = try store.counts(includingDone: true)
            #expect(counts.pending == 5 && counts.done == 1 && counts.dead == 1, "\(counts)")
            #expect(counts.oldestPendingMillis == orders[0].createdAtMillis)
            #expect(try store.counts().done == nil)  // the cheap counts leave the walk over done tasks out
        }
    }
}
}
