import Foundation
import Testing
import TestSupport
import OrderdSupport
import OrderdConfig
import OrderdOrders
// @testable: these tests read internals: OrderdStore (OrderWriteStep, Tuning, statistics).
@testable import OrderdStore

/// `Idempotency-Key` handling inside the writer.
@Suite struct StoreIdempotencyTests {
    private static let body = Array(#"{"customer":{"phone":"+8613800138000"},"currency":"CNY","items":[]}"#.utf8)

    @Test func sameKeySameBodyReplaysTheFirstOrder() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            let request = IdempotencyRequest(key: "key-1", body: Self.body)

            let first = try store.create(.sample(1), idempotency: request, deadline: .inSeconds(10))
            guard case .created(let stored) = first else {
                Issue.record("expected .created, got \(first)")
                return
            }
            // Even a different parsed order: the body bytes decide, and the first order is what is answered.
            let second = try store.create(.sample(2), idempotency: request, deadline: .inSeconds(10))
            #expect(second == .replayed(stored))
            #expect(try countRows("orders", at: configuration.store.path) == 1)
        }
    }

    @Test func sameKeyDifferentBodyIsAConflict() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            _ = try store.create(
                .sample(1), idempotency: IdempotencyRequest(key: "key-1", body: Self.body), deadline: .inSeconds(10))

            for other in [Self.body + [0x20], Array(Self.body.dropLast()), [], Self.body.map { $0 == 0x38 ? 0x39 : $0 }] {
                let error = #expect(throws: StoreError.self) {
                    try store.create(
                        .sample(1), idempotency: IdempotencyRequest(key: "key-1", body: other), deadline: .inSeconds(10))
                }
                #expect(error?.code == .idempotencyConflict)
            }
            #expect(try countRows("orders", at: configuration.store.path) == 1)
            // Other keys are unaffected.
            let outcome = try store.create(
                .sample(1), idempotency: IdempotencyRequest(key: "key-2", body: Self.body), deadline: .inSeconds(10))
            guard case .created = outcome else {
                Issue.record("expected .created, got \(outcome)")
                return
            }
        }
    }

    @Test func concurrentDuplicatesCreateExactlyOneOrder() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            let request = IdempotencyRequest(key: "one-key", body: Self.body)
            let outcomes = Collected<Result<CreateOutcome, StoreError>>()
            try onThreads(32) { _ in
                outcomes.append(Result { () throws(StoreError) in
                    try store.create(.sample(7), idempotency: request, deadline: .inSeconds(60))
                })
            }
            let results = outcomes.values
            #expect(results.count == 32)
            let orders = results.compactMap { try? $0.get() }
            #expect(orders.count == 32)
            #expect(Set(orders.map(\.order.id)).count == 1)
            #expect(orders.filter { if case .created = $0 { true } else { false } }.count == 1)
            #expect(try countRows("orders", at: configuration.store.path) == 1)
            #expect(try countRows("orders", at: configuration.store.path, where: "idempotency_key = 'one-key'") == 1)
        }
    }

    @Test func duplicatesInTheSameBatchReplayAndConflict() async throws {
        try await withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory, busyTimeout: .seconds(20))
            let path = configuration.store.path
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            let same = IdempotencyRequest(key: "batch-key", body: Self.body)
            let different = IdempotencyRequest(key: "batch-key", body: Self.body + [0x0A])
            let results = try await createInOneBatch(
                [.sample(1), .sample(1), .sample(1), .sample(2)],
                idempotency: [same, same, same, nil],
                store: store,
                path: path
            )
            #expect(store.statistics.largestBatch == 4)
            let keyed = try results.prefix(3).map { try $0.get() }
            #expect(Set(keyed.map(\.order.id)).count == 1)
            #expect(keyed.filter { if case .created = $0 { true } else { false } }.count == 1)
            #expect(try results[3].get().order.order == .sample(2))
            #expect(try countRows("orders", at: path) == 3)  // blocker, the keyed order, the unkeyed one

            // A conflicting body in the same batch as the first use of a key.
            let mixed = try await createInOneBatch(
                [.sample(3), .sample(3)],
                idempotency: [IdempotencyRequest(key: "mixed", body: Self.body),
                              IdempotencyRequest(key: "mixed", body: different.body)],
                store: store,
                path: path
            )
            let created = mixed.filter { (try? $0.get()) != nil }
            let conflicts = mixed.filter {
                if case .failure(let error) = $0 { error.code == .idempotencyConflict } else { false }
            }
            #expect(created.count == 1 && conflicts.count == 1)
        }
    }

    /// A store whose idempotency keys live 60 s on `clock`, the tests' own wall clock.
    static func store(
        _ configuration: OrderdConfiguration, clock: ManualWallClock, steps: [OrderWriteStep] = [],
        tuning: SQLiteOrderStore.Tuning = SQLiteOrderStore.Tuning()
    ) throws -> SQLiteOrderStore {
        try SQLiteOrderStore(
            store: configuration.store, idempotencyTTL: .seconds(60), writeSteps: steps, tuning: tuning,
            wallClock: { clock.now })
    }

    @Test func expiredKeyIsReusedForANewOrder() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let clock = ManualWallClock(millis: 1_750_000_000_000)
            let store = try Self.store(configuration, clock: clock)
            defer { store.close() }
            let request = IdempotencyRequest(key: "key-1", body: Self.body)

            let first = try store.create(.sample(1), idempotency: request, deadline: .inSeconds(10)).order
            clock.advance(by: 59_999)
            #expect(try store.create(.sample(1), idempotency: request, deadline: .inSeconds(10)) == .replayed(first))

            clock.advance(by: 1)  // created_at_ms + TTL reached: the key counts as absent
            let second = try store.create(.sample(1), idempotency: request, deadline: .inSeconds(10))
            guard case .created(let renewed) = second else {
                Issue.record("expected .created, got \(second)")
                return
            }
            #expect(renewed.id != first.id)
            #expect(try store.create(.sample(1), idempotency: request, deadline: .inSeconds(10)) == .replayed(renewed))

            // After expiry a different body is no conflict either.
            clock.advance(by: 60_000)
            let third = try store.create(
                .sample(2), idempotency: IdempotencyRequest(key: "key-1", body: [1, 2, 3]), deadline: .inSeconds(10))
            guard case .created = third else {
                Issue.record("expected .created, got \(third)")
                return
            }
            let path = configuration.store.path
            #expect(try countRows("orders", at: path) == 3)
            // Only the newest order holds the key now; the older ones gave up key and body.
            #expect(try countRows("orders", at: path, where: "idempotency_key IS NOT NULL") == 1)
            #expect(try countRows("orders", at: path, where: "request_body IS NOT NULL") == 1)
            #expect(try countRows("orders", at: path, where: "idempotency_key = 'key-1' AND request_body = x'010203'") == 1)
            #expect(try store.order(id: first.id) == first)  // the orders themselves stay
            #expect(try store.order(id: renewed.id) == renewed)
        }
    }

    @Test func anExpiredKeyTakenInTheSameBatchReplaysForTheRest() async throws {
        try await withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory, busyTimeout: .seconds(20))
            let path = configuration.store.path
            let clock = ManualWallClock(millis: 1_750_000_000_000)
            let store = try Self.store(configuration, clock: clock)
            defer { store.close() }
            let request = IdempotencyRequest(key: "key-1", body: Self.body)
            let first = try store.create(.sample(1), idempotency: request, deadline: .inSeconds(10)).order
            clock.advance(by: 60_000)

            let results = try await createInOneBatch(
                [.sample(2), .sample(2), .sample(2)], idempotency: [request, request, request], store: store, path: path)
            let outcomes = try results.map { try $0.get() }
            #expect(Set(outcomes.map(\.order.id)).count == 1)
            #expect(!outcomes.map(\.order.id).contains(first.id))
            #expect(outcomes.filter { if case .created = $0 { true } else { false } }.count == 1)
            #expect(try countRows("orders", at: path, where: "idempotency_key IS NOT NULL") == 1)
            #expect(try countRows("orders", at: path) == 3)  // the first, the blocker, the new one
        }
    }

    @Test func aFailedWriteKeepsTheExpiredKeyWithItsOrder() throws {
        // Clearing an expired key belongs to the new order's savepoint: when that order fails, the old order
        // keeps its key and body.
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let path = configuration.store.path
            let clock = ManualWallClock(millis: 1_750_000_000_000)
            let step = OrderWriteStep(name: "refuse") { (_, stored) throws(StoreError) in
                if stored.order.note == "refuse" { throw StoreError.internalError("refused by the test step") }
            }
            let store = try Self.store(configuration, clock: clock, steps: [step])
            defer { store.close() }
            let request = IdempotencyRequest(key: "key-1", body: Self.body)
            let first = try store.create(.sample(1), idempotency: request, deadline: .inSeconds(10)).order
            clock.advance(by: 60_000)
            var refused = NewOrder.sample(2)
            refused.note = "refuse"
            let error = #expect(throws: StoreError.self) {
                try store.create(refused, idempotency: request, deadline: .inSeconds(10))
            }
            #expect(error?.code == .internal)
            #expect(try countRows("orders", at: path) == 1)
            #expect(try countRows(
                "orders", at: path, where: "id = '\(first.id)' AND idempotency_key = 'key-1' AND request_body IS NOT NULL") == 1)
        }
    }

    @Test func expiredKeysArePurged() async throws {
        try await withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let clock = ManualWallClock(millis: 1_750_000_000_000)
            var tuning = SQLiteOrderStore.Tuning()
            tuning.writer.purgeInterval = .milliseconds(20)
            tuning.writer.purgeLimit = 2  // several purge rounds
            tuning.writer.purgeScanLimit = 3
            let store = try Self.store(configuration, clock: clock, tuning: tuning)
            defer { store.close() }
            let path = configuration.store.path
            for number in 0..<5 {
                _ = try store.create(
                    .sample(number), idempotency: IdempotencyRequest(key: "k\(number)", body: Self.body),
                    deadline: .inSeconds(10))
                // Orders without a key in between: the purge walks past them.
                for _ in 0..<number { _ = try store.create(.sample(number), idempotency: nil, deadline: .inSeconds(10)) }
            }
            _ = try store.create(
                .sample(9), idempotency: IdempotencyRequest(key: "fresh", body: Self.body), deadline: .inSeconds(10))
            #expect(try countRows("orders", at: path, where: "idempotency_key IS NOT NULL") == 6)

            clock.advance(by: 30_000)
            _ = try store.create(
                .sample(10), idempotency: IdempotencyRequest(key: "young", body: Self.body), deadline: .inSeconds(10))
            clock.advance(by: 30_000)  // the first six expire, "young" does not
            #expect(await eventually { store.statistics.purgedKeys == 6 })
            #expect(try countRows("orders", at: path, where: "idempotency_key IS NOT NULL") == 1)
            #expect(try countRows("orders", at: path, where: "request_body IS NOT NULL") == 1)
            #expect(try countRows("orders", at: path, where: "idempotency_key = 'young'") == 1)
            #expect(try countRows("orders", at: path) == 17)  // orders stay

            // Purges go on from where they stopped: later orders are cleared when they expire too.
            clock.advance(by: 30_000)
            #expect(await eventually { store.statistics.purgedKeys == 7 })
            #expect(try countRows("orders", at: path, where: "idempotency_key IS NOT NULL") == 0)
            try await Task.sleep(for: .milliseconds(100))  // several more purge intervals
            #expect(store.statistics.purgedKeys == 7)
        }
    }
}
