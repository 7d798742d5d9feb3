import Foundation
import OrderdSupport
import Testing
import TestSupport
import OrderdConfig
import OrderdOrders
// @testable: these tests read internals: OrderdStore (OrderWriteStep, SQLiteConnection, internalError, statistics).
@testable import OrderdStore

/// The single writer: batching, deadlines, a locked database, savepoints and a failed COMMIT.
@Suite struct StoreGroupCommitTests {
    @Test func concurrentCreatesAreAllStoredInFewerTransactions() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            let threads = 50, perThread = 20
            let created = Collected<StoredOrder>()
            let failures = Collected<StoreError>()
            try onThreads(threads) { thread in
                for number in 0..<perThread {
                    do throws(StoreError) {
                        let outcome = try store.create(
                            .sample(thread * perThread + number), idempotency: nil, deadline: .inSeconds(60))
                        created.append(outcome.order)
                    } catch {
                        failures.append(error)
                    }
                }
            }
            #expect(failures.values.isEmpty, "\(failures.values.map { String(reflecting: $0) })")
            let orders = created.values
            #expect(orders.count == threads * perThread)
            #expect(Set(orders.map(\.id)).count == orders.count)
            for order in orders {
                #expect(try store.order(id: order.id) == order)
            }
            #expect(try countRows("orders", at: configuration.store.path) == Int64(threads * perThread))

            let statistics = store.statistics
            #expect(statistics.writes == threads * perThread)
            #expect(statistics.commits == statistics.transactions)
            #expect(statistics.commits < threads * perThread, "group commit should put several orders in one commit")
            print(
                "group commit: \(statistics.writes) orders in \(statistics.commits) commits, largest batch \(statistics.largestBatch), sizes by power of two \(statistics.batchSizes)")
        }
    }

    @Test func deadlineAlreadyPassedIsBusyAndWritesNothing() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            let error = #expect(throws: StoreError.self) {
                try store.create(.sample(1), idempotency: nil, deadline: .now - .milliseconds(1))
            }
            #expect(error?.code == .busy)
            #expect(try countRows("orders", at: configuration.store.path) == 0)
            #expect(store.statistics.transactions == 0)
        }
    }

    @Test func lockedDatabaseAnswersBusyWithinTheBusyTimeout() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory, busyTimeout: .milliseconds(200))
            let path = configuration.store.path
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            let lock = try holdWriteLock(path)

            let started = ContinuousClock.now
            let error = #expect(throws: StoreError.self) {
                try store.create(.sample(1), idempotency: nil, deadline: .inSeconds(30))
            }
            let elapsed = ContinuousClock.now - started
            #expect(error?.code == .busy)
            // SQLITE_BUSY: SQLite's busy handler gave up (after busy_timeout), not the request's 30 s deadline.
            #expect(error?.sqliteStatus.map { $0 & 0xFF } == 5)
            #expect(elapsed >= .milliseconds(150), "\(elapsed)")
            // Reads still work while another connection holds the write lock (WAL).
            #expect(try store.order(id: "0190b3d6-0000-7000-8000-000000000000") == nil)

            try lock.execute("ROLLBACK")
            lock.close()
            #expect(try countRows("orders", at: path) == 0)
            let stored = try store.create(.sample(2), idempotency: nil, deadline: .inSeconds(30)).order
            #expect(try store.order(id: stored.id) == stored)
        }
    }

    @Test func queuedWriteGivesUpAtItsDeadlineAndIsNeverWritten() async throws {
        try await withLockedStore { store, lock, path in

            // The writer takes this one and waits in BEGIN IMMEDIATE for the lock.
            let blocker = Collected<Result<CreateOutcome, StoreError>>()
            let blockerThread = try OwnedThread(name: "blocker") {
                blocker.append(Result { () throws(StoreError) in
                    try store.create(.sample(1), idempotency: nil, deadline: .inSeconds(30))
                })
            }
            #expect(await eventually { store.statistics.dequeued == 1 })

            // This one stays queued behind it, so its request gives up at its own deadline.
            let started = ContinuousClock.now
            let error = #expect(throws: StoreError.self) {
                try store.create(.sample(2), idempotency: nil, deadline: .now + .milliseconds(300))
            }
            let elapsed = ContinuousClock.now - started
            #expect(error?.code == .busy)
            // Its own deadline, not SQLite's busy handler; and while the blocker still waits for the lock (its
            // busy_timeout is 20 s), so it did not wait for the writer.
            #expect(error?.sqliteStatus == nil && error?.debugDescription.contains("deadline passed") == true, "\(String(describing: error))")
            #expect(blocker.values.isEmpty)
            #expect(elapsed >= .milliseconds(250), "\(elapsed)")

            try lock.execute("ROLLBACK")
            lock.close()
            blockerThread.join()
            let blockerOrder = try #require(try blocker.values.first?.get()).order
            #expect(try countRows("orders", at: path) == 1)
            #expect(try store.order(id: blockerOrder.id) == blockerOrder)
        }
    }

    /// A create with a completion (the HTTP edge's, which hands the request over instead of waiting) returns
    /// at once; the writer calls the completion once the batch holding the order committed, on its own thread,
    /// with the order readable by then.
    @Test func aCreateWithACompletionReturnsAtOnceAndIsAnsweredAfterItsCommit() async throws {
        try await withLockedStore { store, lock, _ in

            let answers = Collected<(result: Result<CreateOutcome, StoreError>, thread: String, readable: StoredOrder?)>()
            store.create(.sample(1), idempotency: nil, deadline: .inSeconds(30), answerBy: .inSeconds(30)) { result in
                let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
                let readable = (try? result.get()).flatMap { try? store.order(id: $0.order.id) }
                answers.append((result, name.trimmingCharacters(in: .whitespacesAndNewlines), readable))
            }
            // The writer has it and waits for the lock: no answer yet, and this thread was not held.
            #expect(await eventually { store.statistics.dequeued == 1 })
            #expect(answers.values.isEmpty)

            try lock.execute("ROLLBACK")
            lock.close()
            #expect(await eventually { answers.values.count == 1 })
            let answer = try #require(answers.values.first)
            let order = try answer.result.get().order
            #expect(answer.thread == "orderd-writer")
            #expect(answer.readable == order, "committed before the completion ran")
        }
    }

    /// Nobody gives up a write with a completion at its deadline: the writer answers it busy when it gets to it
    /// too late, and does not write it.
    @Test func aWriteWithACompletionWhoseDeadlinePassedInTheQueueIsAnsweredBusyAndNotWritten() async throws {
        try await withLockedStore { store, lock, path in

            // The writer takes this one and waits in BEGIN IMMEDIATE for the lock.
            let blockerThread = try OwnedThread(name: "blocker") {
                _ = try? store.create(.sample(1), idempotency: nil, deadline: .inSeconds(30))
            }
            #expect(await eventually { store.statistics.dequeued == 1 })

            let answers = Collected<Result<CreateOutcome, StoreError>>()
            let deadline = ContinuousClock.now + .milliseconds(200)
            store.create(.sample(2), idempotency: nil, deadline: deadline, answerBy: deadline) { answers.append($0) }
            while ContinuousClock.now <= deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(answers.values.isEmpty, "still queued behind the blocker, past its deadline")

            try lock.execute("ROLLBACK")
            lock.close()
            blockerThread.join()
            #expect(await eventually { answers.values.count == 1 })
            let error = #expect(throws: StoreError.self) { try answers.values.first?.get() }
            #expect(error?.code == .busy)
            #expect(try countRows("orders", at: path) == 1)
        }
    }

    /// A write taken into a batch waits for the write lock no longer than its deadline, and the write queued
    /// behind that batch no longer than its own: each is answered busy at its deadline, while another process still
    /// holds the lock (busy_timeout is 20 s here: before, the first waited all of it, and a write queued behind a
    /// batch that waited out busy_timeout waited a whole busy_timeout more in its own batch).
    @Test func aWriteWaitsForTheWriteLockNoLongerThanItsDeadlineNorDoesTheOneQueuedBehindIt() async throws {
        try await withLockedStore { store, lock, path in

            let first = Collected<Result<CreateOutcome, StoreError>>()
            let second = Collected<Result<CreateOutcome, StoreError>>()
            let started = ContinuousClock.now
            let deadline = started + .milliseconds(300)
            store.create(.sample(1), idempotency: nil, deadline: deadline, answerBy: deadline) { first.append($0) }
            #expect(await eventually { store.statistics.dequeued == 1 })  // taken into a batch: waiting in BEGIN
            let later = ContinuousClock.now + .milliseconds(600)
            store.create(.sample(2), idempotency: nil, deadline: later, answerBy: later) { second.append($0) }

            // Answered while the lock is still held, within `eventually`'s 10 s (half the busy timeout).
            #expect(await eventually { first.values.count == 1 && second.values.count == 1 })
            #expect(ContinuousClock.now - started >= .milliseconds(550))
            for result in first.values + second.values {
                let error = #expect(throws: StoreError.self) { try result.get() }
                #expect(error?.code == .busy, "\(String(describing: error))")
            }

            try lock.execute("ROLLBACK")
            lock.close()
            #expect(try countRows("orders", at: path) == 0)
            // The lock released, the next write waits for nobody.
            let stored = try store.create(.sample(3), idempotency: nil, deadline: .inSeconds(30)).order
            #expect(try store.order(id: stored.id) == stored)
        }
    }

    @Test func aRowLevelFailureRollsBackOnlyItsOwnSavepoint() async throws {
        try await withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory, busyTimeout: .seconds(20))
            let path = configuration.store.path
            try prepareTestTables(at: path)
            // Stands in for the outbox: a row in the same transaction as each order, and a constraint
            // violation for orders whose note says so.
            let step = OrderWriteStep(name: "test-outbox") { (connection, stored) throws(StoreError) in
                let outbox = try connection.cached("INSERT INTO test_outbox (order_id) VALUES (?1)")
                defer { outbox.reset() }
                try outbox.bind(1, stored.id)
                try outbox.step()
                if stored.order.note == "violate" {
                    let duplicate = try connection.cached(
                        "INSERT INTO orders (id, created_at_ms, phone, currency, total_cents, items) VALUES (?1, 0, '', 'XXX', 0, '[]')")
                    defer { duplicate.reset() }
                    try duplicate.bind(1, stored.id)
                    try duplicate.step()
                }
            }
            let store = try SQLiteOrderStore(
                store: configuration.store, idempotencyTTL: .seconds(3600), writeSteps: [step])
            defer { store.close() }

            var orders = (0..<8).map { NewOrder.sample($0) }
            orders[2].note = "violate"
            orders[5].note = "violate"
            let results = try await createInOneBatch(orders, store: store, path: path)
            #expect(store.statistics.largestBatch == orders.count)

            for (index, result) in results.enumerated() {
                switch result {
                case .success(.created(let stored)):
                    #expect(index != 2 && index != 5)
                    #expect(try store.order(id: stored.id) == stored)
                case .failure(let error):
                    #expect(index == 2 || index == 5)
                    #expect(error.code == .internal)
                    #expect(error.sqliteStatus == 1555)  // SQLITE_CONSTRAINT_PRIMARYKEY
                default:
                    Issue.record("unexpected \(result)")
                }
            }
            // The blocker plus six orders; each with exactly its own outbox row.
            #expect(try countRows("orders", at: path) == 7)
            #expect(try countRows("test_outbox", at: path) == 7)
            #expect(try countRows("orders, json_each(orders.items)", at: path) == 14)  // two lines each
        }
    }

    @Test func aFailedCommitFailsTheWholeBatch() async throws {
        try await withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory, busyTimeout: .seconds(20))
            let path = configuration.store.path
            try prepareTestTables(at: path)
            // A deferred foreign key is only checked at COMMIT, so this makes the COMMIT itself fail.
            let step = OrderWriteStep(name: "poison") { (connection, stored) throws(StoreError) in
                guard stored.order.note == "poison" else { return }
                try connection.execute("INSERT INTO test_deferred (order_id) VALUES ('no-such-order')")
            }
            let store = try SQLiteOrderStore(
                store: configuration.store, idempotencyTTL: .seconds(3600), writeSteps: [step])
            defer { store.close() }

            var orders = (0..<5).map { NewOrder.sample($0) }
            orders[3].note = "poison"
            let results = try await createInOneBatch(orders, store: store, path: path)
            for result in results {
                guard case .failure(let error) = result else {
                    Issue.record("expected every write of the batch to fail, got \(result)")
                    continue
                }
                #expect(error.sqliteStatus == 787)  // SQLITE_CONSTRAINT_FOREIGNKEY
                #expect(error.debugDescription.contains("COMMIT"))
            }
            #expect(try countRows("orders", at: path) == 1)  // only the blocker
            #expect(try countRows("test_deferred", at: path) == 0)
            // The writer carries on.
            let stored = try store.create(.sample(9), idempotency: nil, deadline: .inSeconds(30)).order
            #expect(try store.order(id: stored.id) == stored)
        }
    }
}

// MARK: - Helpers

/// Another connection holding the write lock, as another process could.
/// A store whose database another connection holds the write lock of (`lock`: roll it back to free it), with a
/// busy timeout long enough that the writer waits in `BEGIN IMMEDIATE` for as long as the test does.
func withLockedStore(
    _ body: (_ store: SQLiteOrderStore, _ lock: SQLiteConnection, _ path: String) async throws -> Void
) async throws {
    try await withStoreDirectory { directory in
        let configuration = OrderdConfiguration.store(in: directory, busyTimeout: .seconds(20))
        let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
        defer { store.close() }
        try await body(store, try holdWriteLock(configuration.store.path), configuration.store.path)
    }
}

func holdWriteLock(_ path: String) throws -> SQLiteConnection {
    let connection = try SQLiteConnection(path: path, readOnly: false)
    try connection.execute("BEGIN EXCLUSIVE")
    return connection
}

func prepareTestTables(at path: String) throws {
    let connection = try SQLiteConnection(path: path, readOnly: false)
    defer { connection.close() }
    try connection.execute("""
        CREATE TABLE test_outbox (order_id TEXT NOT NULL PRIMARY KEY);
        CREATE TABLE test_deferred (order_id TEXT REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED);
        """)
}

/// Creates `orders` (with their idempotency requests) so that they all land in one writer transaction: a
/// blocker write waits in BEGIN IMMEDIATE behind a lock held by another connection while they queue up.
/// Returns their results in the order given; the blocker is committed first, on its own. `async`: it waits for
/// the writer without holding a thread of the cooperative pool (see `pollUntil`).
func createInOneBatch(
    _ orders: [NewOrder],
    idempotency: [IdempotencyRequest?]? = nil,
    store: SQLiteOrderStore,
    path: String
) async throws -> [Result<CreateOutcome, StoreError>] {
    let lock = try holdWriteLock(path)
    let dequeued = store.statistics.dequeued
    let blocker = try OwnedThread(name: "blocker") {
        _ = try? store.create(.sample(999), idempotency: nil, deadline: .inSeconds(60))
    }
    guard await eventually({ store.statistics.dequeued == dequeued + 1 }) else {
        throw StoreError.internalError("the writer did not take the blocker")
    }

    let results = Collected<(Int, Result<CreateOutcome, StoreError>)>()
    let threads = try orders.enumerated().map { index, order in
        try OwnedThread(name: "batch-\(index)") {
            let result = Result { () throws(StoreError) in
                try store.create(order, idempotency: idempotency?[index], deadline: .inSeconds(60))
            }
            results.append((index, result))
        }
    }
    guard await eventually({ store.queuedWrites == orders.count }) else {
        throw StoreError.internalError("writes did not queue up")
    }
    try lock.execute("ROLLBACK")
    lock.close()
    blocker.join()
    for thread in threads { thread.join() }
    return results.values.sorted { $0.0 < $1.0 }.map(\.1)
}
