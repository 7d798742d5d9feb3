import OrderdConfig
import OrderdOrders
import OrderdSupport
import Synchronization

/// Extra rows written in the same transaction, and the same savepoint, as each newly created order: the
/// place where the outbox will hook in.
///
/// Runs on the writer thread with the writer's connection (use `connection.cached(_:)` for statements).
/// Throwing undoes that one order (its request fails, the rest of the batch commits), unless the error is
/// fatal for the whole transaction (I/O error, disk full). A step may note on the order what it decided for
/// its follow-ups (`StoredOrder.smsThrottled`): the caller gets the order as the steps left it.
struct OrderWriteStep: Sendable {
    var name: String
    var write: @Sendable (_ connection: SQLiteConnection, _ order: inout StoredOrder) throws(StoreError) -> Void
}

// MARK: Metrics hook (GET /metrics): the writer reports each transaction's duration and size.

/// Gets every batch transaction of the writer, on the writer thread, after the requests in it were answered,
/// and every WAL checkpoint of the SQLite store. Must be quick and never block: the next batch waits for it.
package protocol CommitObserver: Sendable {
    func transactionFinished(duration: Duration, orders: Int, committed: Bool)
    /// A PASSIVE checkpoint that ran: the checkpointer thread's passes (`byWriter` false: beside the writer,
    /// holding up nobody), or the writer's own between two transactions, which lets the WAL start over and
    /// holds up the next batch for as long as it takes (`byWriter` true; see `WALCheckpointer`).
    func checkpointFinished(duration: Duration, byWriter: Bool)
}

extension CommitObserver {
    /// Stores without a WAL (PostgreSQL) never call it.
    package func checkpointFinished(duration: Duration, byWriter: Bool) {}
}

/// What the group-commit writer has done, for tests, benchmarks and later metrics.
struct GroupCommitStatistics: Sendable, Equatable {
    /// Writes the writer took off the queue.
    var dequeued = 0
    /// Batch transactions begun.
    var transactions = 0
    /// Batch transactions that committed.
    var commits = 0
    /// Writes taken into a transaction (committed or not).
    var writes = 0
    /// Most writes in one transaction.
    var largestBatch = 0
    /// `batchSizes[k]`: transactions with 2^k ... 2^(k+1)-1 writes (1, 2–3, 4–7, …, 256–511).
    var batchSizes = [Int](repeating: 0, count: 10)
    /// Writes answered `busy` without being written because their deadline had passed when the writer got
    /// to them.
    var expired = 0
    /// Expired idempotency keys (and their request bodies) cleared from their orders by the periodic purge.
    var purgedKeys = 0
    /// Outbox changes (task outcomes, releases, lease renewals) taken into transactions.
    var outboxChanges = 0
    /// Done tasks deleted for `outbox.retention`.
    var deletedDoneTasks = 0
}

/// One `create` call waiting for the writer: the request thread blocks on it, or (with a `completion`) has gone
/// on and is called back; the writer completes it.
final class PendingWrite: Sendable {
    private enum State {
        /// In the queue; the request thread may still give up at its deadline.
        case queued
        /// Part of a transaction; the request thread waits for the outcome whatever the deadline.
        case inTransaction
        /// The request thread gave up before the writer took it; the writer skips it.
        case abandoned
        case finished(Result<CreateOutcome, StoreError>)
    }

    let order: NewOrder
    let idempotency: IdempotencyRequest?
    let deadline: ContinuousClock.Instant
    /// Called by the writer with the outcome, instead of a waiting thread being woken. Nobody gives such a
    /// write up at its deadline: the writer answers it `busy` when it gets to it too late.
    private let completion: (@Sendable (Result<CreateOutcome, StoreError>) -> Void)?
    // A mutex per write, so completing a batch wakes exactly the threads in it and they do not contend.
    private let state = PThreadLocked(State.queued)

    init(
        order: NewOrder, idempotency: IdempotencyRequest?, deadline: ContinuousClock.Instant,
        completion: (@Sendable (Result<CreateOutcome, StoreError>) -> Void)? = nil
    ) {
        self.order = order
        self.idempotency = idempotency
        self.deadline = deadline
        self.completion = completion
    }

    /// Writer: takes the write into the transaction about to begin. False when the request already gave up,
    /// or when its deadline has passed (then it is answered `busy` here and never written).
    func claim(now: ContinuousClock.Instant) -> Bool {
        let taken = state.withLock { state -> Bool? in
            guard case .queued = state else { return false }
            guard now < deadline else { return nil }
            state = .inTransaction
            return true
        }
        guard let taken else {
            finish(.failure(.deadlinePassed("deadline passed while the write was queued")))
            return false
        }
        return taken
    }

    /// Writer: hands the outcome to the waiting request thread (the signal after unlocking, see
    /// `PThreadLocked.signal`), or to the completion.
    func finish(_ result: Result<CreateOutcome, StoreError>) {
        if let completion { return completion(result) }
        state.withLock { state in state = .finished(result) }
        state.signal()
    }

    /// Request thread: blocks until the writer answered, or until the deadline if the writer has not taken
    /// the write into a transaction by then.
    func awaitOutcome() throws(StoreError) -> CreateOutcome {
        let result = state.withLock { (state, timedOut) -> LockedStep<Result<CreateOutcome, StoreError>> in
            switch state {
            case .finished(let result):
                return .done(result)
            case .queued:
                guard timedOut else { return .wait(until: deadline) }
                state = .abandoned
                return .done(.failure(.deadlinePassed("deadline passed while the write was queued")))
            case .inTransaction:
                return .wait(until: nil)
            case .abandoned:
                preconditionFailure("a write is abandoned only by the thread waiting for it")
            }
        }
        return try result.get()
    }
}

/// A blocking call run by the writer thread in its next transaction (an outbox claim, a manual retry), for a
/// caller that needs the result. The caller blocks until the transaction holding it committed or failed.
final class WriterCall: Sendable {
    private let body: @Sendable (SQLiteConnection) throws(StoreError) -> Void
    private let result = PThreadLocked<Result<Void, StoreError>?>(nil)

    /// `body` runs on the writer thread, inside the batch transaction; what it stores becomes visible to the
    /// caller only once the transaction committed.
    init(_ body: @escaping @Sendable (SQLiteConnection) throws(StoreError) -> Void) {
        self.body = body
    }

    func perform(on connection: SQLiteConnection) throws(StoreError) { try body(connection) }

    func finish(_ outcome: Result<Void, StoreError>) {
        result.withLock { result in result = outcome }
        result.signal()  // after unlocking (see `PThreadLocked.signal`)
    }

    func awaitOutcome() throws(StoreError) {
        try result.withLock { (result, _) -> LockedStep<Result<Void, StoreError>> in
            result.map { .done($0) } ?? .wait(until: nil)
        }.get()
    }
}

/// What the writer takes off the queue for one transaction.
struct WriteBatch: Sendable {
    var orders: [PendingWrite] = []
    var changes: [OutboxChange] = []
    var calls: [WriterCall] = []
    var isEmpty: Bool { orders.isEmpty && changes.isEmpty && calls.isEmpty }
}

/// The queue between request threads and the writer thread.
final class WriteQueue: Sendable {
    private struct State: Sendable {
        var pending: [PendingWrite] = []
        var changes: [OutboxChange] = []
        var calls: [WriterCall] = []
        var stopping = false
        var writerWaiting = false
        var stats = GroupCommitStatistics()
        var isEmpty: Bool { pending.isEmpty && changes.isEmpty && calls.isEmpty }
    }

    private let state = PThreadLocked(State())
    /// Metrics hook: set once at startup; the writer reads it once per transaction (not under `state`, which
    /// request threads queue on).
    private let observer = Mutex<(any CommitObserver)?>(nil)

    var commitObserver: (any CommitObserver)? {
        get { observer.withLock { $0 } }
        set { observer.withLock { $0 = newValue } }
    }

    /// Request thread: queues a write; fails when its deadline has passed already or the store is closing.
    func enqueue(_ write: PendingWrite) throws(StoreError) {
        guard ContinuousClock.now < write.deadline else {
            throw StoreError.deadlinePassed("deadline passed before the write was queued")
        }
        let wake = try state.withLock { (state) throws(StoreError) in
            guard !state.stopping else { throw StoreError.unavailable("the order store is closed") }
            state.pending.append(write)
            return state.writerWaiting
        }
        // After unlocking (see `PThreadLocked.signal`); a writer that woke meanwhile only looks at the queue once more.
        if wake { state.signal() }
    }

    /// Queues an outbox change; never waits. After the store closed the change is dropped: the task's lease
    /// runs out and it is claimed again.
    func enqueue(_ change: OutboxChange) {
        let wake = state.withLock { state in
            guard !state.stopping else { return false }
            state.changes.append(change)
            return state.writerWaiting
        }
        if wake { state.signal() }
    }

    /// Queues a blocking call; fails once the store is closing.
    func enqueue(_ call: WriterCall) throws(StoreError) {
        try state.withLock { (state) throws(StoreError) in
            guard !state.stopping else { throw StoreError.unavailable("the order store is closed") }
            state.calls.append(call)
            if state.writerWaiting { self.state.signal() }
        }
    }

    /// Writer: everything queued, up to `limit` orders and `limit` * 4 outbox changes. Waits while the queue
    /// is empty: returns an empty batch when `wakeAt` passes first, and nil once the store is stopping and
    /// nothing is left.
    func take(limit: Int, wakeAt: ContinuousClock.Instant) -> WriteBatch? {
        state.withLock { (state, timedOut) -> LockedStep<WriteBatch?> in
            state.writerWaiting = false
            if state.isEmpty {
                if state.stopping { return .done(nil) }
                if timedOut { return .done(WriteBatch()) }
                state.writerWaiting = true
                return .wait(until: wakeAt)
            }
            var batch = WriteBatch()
            state.stats.dequeued += min(state.pending.count, limit)
            if state.pending.count <= limit {
                swap(&batch.orders, &state.pending)
            } else {
                batch.orders = Array(state.pending.prefix(limit))
                state.pending.removeFirst(limit)
            }
            let changeLimit = limit * 4
            if state.changes.count <= changeLimit {
                swap(&batch.changes, &state.changes)
            } else {
                batch.changes = Array(state.changes.prefix(changeLimit))
                state.changes.removeFirst(changeLimit)
            }
            swap(&batch.calls, &state.calls)
            return .done(batch)
        }
    }

    /// Close: the writer finishes what is queued, then `take` returns nil.
    func stop() {
        state.withLock { state in
            state.stopping = true
            self.state.signal()
        }
    }

    func update(_ change: (inout GroupCommitStatistics) -> Void) {
        state.withLock { change(&$0.stats) }
    }

    var statistics: GroupCommitStatistics { state.withLock { $0.stats } }

    /// Writes queued and not yet taken by the writer.
    var count: Int { state.withLock { $0.pending.count } }
}

/// The single writer: takes every queued write, commits them in one `BEGIN IMMEDIATE … COMMIT` (one fsync at
/// `synchronous=FULL`), then answers each request.
///
/// Not `Sendable`: `SQLiteOrderStore.init` sends it to the writer thread, the only one that touches it (the
/// connection, the id generator) from then on.
final class GroupCommitWriter {
    struct Tuning: Sendable {
        /// Most writes per transaction.
        var batchLimit = 256
        /// How often expired idempotency keys are cleared.
        var purgeInterval: Duration = .seconds(60)
        /// Most keys cleared per purge transaction, so a purge never holds up orders for long.
        var purgeLimit = 1_000
        /// Most orders a purge transaction looks at (most of them have no key, or one already cleared).
        var purgeScanLimit = 10_000
        /// How often done tasks past `outbox.retention` are deleted (right away again after a full batch).
        var retentionInterval: Duration = .seconds(10)
        /// Most done tasks deleted per statement, so the write lock is never held long.
        var retentionBatch = 500
    }

    private static let savepoint = "SAVEPOINT order_write"
    private static let release = "RELEASE order_write"
    private static let rollbackToSavepoint = "ROLLBACK TO order_write"
    // The next three are internal, not private, so a test can check their query plans.
    // Through the partial index `orders_by_idempotency_key` (`=` implies `IS NOT NULL`).
    static let selectByKey =
        "SELECT \(OrderRows.orderColumns), request_body FROM orders WHERE idempotency_key = ?1"
    static let clearKey = "UPDATE orders SET idempotency_key = NULL, request_body = NULL WHERE id = ?1"
    // A range of the primary key: ids are UUIDv7, so the range is a span of creation times.
    static let purgeScan = """
        SELECT id, idempotency_key IS NOT NULL FROM orders WHERE id > ?1 AND id < ?2 ORDER BY id LIMIT ?3
        """

    private let connection: SQLiteConnection
    private let queue: WriteQueue
    private let checkpointer: WALCheckpointer
    private let idempotencyTTLMillis: Int64
    private let steps: [OrderWriteStep]
    private let tuning: Tuning
    private let wallClock: @Sendable () -> Int64
    private var ids = UUIDv7Generator()
    /// Every order whose id sorts at or below this one has no expired key left to clear. Starts below every
    /// id, so the first purge after a start walks the old orders once (a chunk per transaction); later purges
    /// only walk the orders created since the one before.
    private var purgedThrough = ""
    /// `outbox.retention` in milliseconds; 0 keeps done tasks.
    private let retentionMillis: Int64
    /// The limit of the retention DELETE in the batch being committed (`commit(_:deletingDone:)`).
    private var retentionLimitInBatch = 0
    /// `store.busy_timeout`, the connection's own wait for another process's lock: what `begin(_:)` goes back to.
    private let busyTimeout: Duration

    init(
        connection: SQLiteConnection,
        checkpointer: WALCheckpointer,
        queue: WriteQueue,
        idempotencyTTL: Duration,
        steps: [OrderWriteStep],
        tuning: Tuning,
        wallClock: @escaping @Sendable () -> Int64,
        retention: Duration = .zero,
        busyTimeout: Duration
    ) {
        self.connection = connection
        self.busyTimeout = busyTimeout
        self.checkpointer = checkpointer
        self.queue = queue
        self.idempotencyTTLMillis = idempotencyTTL.millis
        self.steps = steps
        self.tuning = tuning
        self.wallClock = wallClock
        self.retentionMillis = max(0, retention.millis)
    }

    /// The writer thread's body: runs until the queue is stopped and drained, then closes the connection.
    func run() {
        // Not right away: at startup the first batches matter more than old keys.
        var nextPurge = ContinuousClock.now + tuning.purgeInterval
        var nextRetention = ContinuousClock.now + tuning.retentionInterval
        var changesSeen = connection.totalChanges
        while var batch = queue.take(
            limit: tuning.batchLimit, wakeAt: retentionMillis > 0 ? min(nextPurge, nextRetention) : nextPurge
        ) {
            let retentionDue = retentionMillis > 0 && ContinuousClock.now >= nextRetention
            var deletedInBatch: Int?
            if !batch.isEmpty {
                let now = ContinuousClock.now
                let taken = batch.orders.count
                batch.orders = batch.orders.filter { $0.claim(now: now) }
                if batch.orders.count < taken {
                    queue.update { $0.expired += taken - batch.orders.count }
                }
                if !batch.isEmpty { deletedInBatch = commit(batch, deletingDone: retentionDue) }
            }
            // After the batch's requests were answered: the next batch waits for it instead.
            if let duration = checkpointer.restart.runIfRequested(on: connection) {
                queue.commitObserver?.checkpointFinished(duration: duration, byWriter: true)
            }
            if ContinuousClock.now >= nextPurge {
                let maybeMore = purgeExpiredKeys()
                nextPurge = maybeMore ? .now : .now + tuning.purgeInterval
            }
            if retentionDue {
                // Under load the DELETE rides in the batch's own transaction (no fsync of its own), sized to the
                // batch; idle, it runs alone. A full DELETE means there may be more: again at the next round.
                let full = deletedInBatch.map { $0 >= retentionLimitInBatch } ?? (deleteDoneTasks() >= tuning.retentionBatch)
                nextRetention = full ? .now : .now + tuning.retentionInterval
            }
            // Rows changed, so frames for an idle checkpointer to copy. Not after every commit: each outbox poll
            // commits, and one that claims nothing writes nothing. Looked at only while it sleeps (under load one
            // relaxed load a round); the first look after it fell asleep may count older changes: one wake more.
            if checkpointer.isIdle {
                let changes = connection.totalChanges
                if changes != changesSeen {
                    changesSeen = changes
                    checkpointer.writerChangedRows()
                }
            }
        }
        // PASSIVE, never TRUNCATE: the store may not be the database's last user (`orderd tasks` beside a
        // running daemon, the old process of a restart beside the new one), and a TRUNCATE checkpoint waits
        // for their readers and blocks their writer up to busy_timeout (503s, dropped outbox changes). PASSIVE
        // copies what it can without waiting. When this connection is the last one (the store closed its
        // readers and checkpointer first), `sqlite3_close` itself gets the exclusive lock without waiting,
        // checkpoints the rest and deletes the WAL, so a clean stop still leaves the database complete on its
        // own; when it is not, the lock is refused at once and the WAL stays for the others.
        _ = connection.checkpointPassive()
        connection.close()
    }

    /// Commits `batch`; with `deletingDone`, one retention DELETE rides in the same transaction. Returns how
    /// many done tasks it deleted then (nil when it did not run).
    @discardableResult
    private func commit(_ batch: WriteBatch, deletingDone: Bool = false) -> Int? {
        // A few rows per order the batch holds: the DELETE adds to the batch's work in proportion (a batch's
        // requests wait for its commit), and still outruns the inserts (3 tasks per order).
        retentionLimitInBatch = min(tuning.retentionBatch, 64 + 8 * batch.orders.count)
        let writes = batch.orders
        let started = ContinuousClock.now  // metrics hook
        let (results, committed, expired, deleted) = runTransaction(batch, deletingDone: deletingDone)
        let duration = ContinuousClock.now - started  // metrics hook
        queue.update { stats in
            stats.transactions += 1
            if committed { stats.commits += 1 }
            stats.outboxChanges += batch.changes.count
            stats.writes += writes.count
            stats.expired += expired
            stats.deletedDoneTasks += deleted ?? 0
            stats.largestBatch = max(stats.largestBatch, writes.count)
            // A transaction of outbox changes only is not an order batch.
            if !writes.isEmpty {
                let bucket = min(Int.bitWidth - writes.count.leadingZeroBitCount - 1, stats.batchSizes.count - 1)
                stats.batchSizes[bucket] += 1
            }
        }
        for (write, result) in zip(writes, results) { write.finish(result) }
        // Metrics hook: after the requests were answered, so none of them waits for it.
        queue.commitObserver?.transactionFinished(duration: duration, orders: writes.count, committed: committed)
        return committed ? deleted : (deletingDone ? 0 : nil)
    }

    /// What happens to the outbox changes and calls of a batch whose transaction failed: changes are lost
    /// (their tasks' leases run out and they are claimed again), calls get the error.
    private func failOutbox(_ batch: WriteBatch, _ error: StoreError) {
        for call in batch.calls { call.finish(.failure(error)) }
    }

    /// One transaction for the whole batch, a savepoint per write. Returns each write's result, whether the
    /// transaction committed, how many writes were dropped for their deadline, and how many done tasks the
    /// retention DELETE removed (`deletingDone`; nil otherwise).
    private func runTransaction(
        _ batch: WriteBatch, deletingDone: Bool
    ) -> (results: [Result<CreateOutcome, StoreError>], committed: Bool, expired: Int, deleted: Int?) {
        let writes = batch.orders
        func failAll(_ error: StoreError) -> ([Result<CreateOutcome, StoreError>], Bool, Int, Int?) {
            connection.rollbackQuietly()
            failOutbox(batch, error)
            return (Array(repeating: .failure(error), count: writes.count), false, 0, nil)
        }
        do throws(StoreError) {
            try begin(writes)
        } catch {
            return failAll(error)
        }
        // BEGIN IMMEDIATE may have waited for another process's write lock: writes whose deadline passed
        // meanwhile are answered busy and not written.
        let now = ContinuousClock.now
        var results: [Result<CreateOutcome, StoreError>] = []
        results.reserveCapacity(writes.count)
        var expired = 0
        for write in writes {
            guard now < write.deadline else {
                results.append(.failure(.deadlinePassed("deadline passed while waiting for the write lock")))
                expired += 1
                continue
            }
            do throws(StoreError) {
                results.append(try writeInSavepoint(write))
            } catch {
                return failAll(error)
            }
        }
        // Outbox changes after the orders: they touch other orders' tasks, never these ones. A change whose
        // lease was lost meanwhile matches no row and changes nothing.
        var callResults: [Result<Void, StoreError>] = []
        do throws(StoreError) {
            for change in batch.changes { try OutboxRows.apply(change, on: connection) }
            #if DEBUG
            try FaultInjection.shared.loseClaimedOutcomesOnce(batch.changes)
            #endif
            for call in batch.calls {
                // A call's failure (bad input, say) is its own; it must not undo the batch.
                try connection.run("SAVEPOINT outbox_call")
                do throws(StoreError) {
                    try call.perform(on: connection)
                    try connection.run("RELEASE outbox_call")
                    callResults.append(.success(()))
                } catch where error.isConfinedToOneWrite {
                    try connection.run("ROLLBACK TO outbox_call")
                    try connection.run("RELEASE outbox_call")
                    callResults.append(.failure(error))
                }
            }
        } catch {
            return failAll(error)
        }
        var deleted: Int?
        if deletingDone {
            // In a savepoint: a failed DELETE only keeps the rows longer, it must not undo the batch.
            do throws(StoreError) {
                try connection.run("SAVEPOINT retention")
                do throws(StoreError) {
                    deleted = try OutboxRows.deleteDone(
                        finishedBeforeMillis: wallClock() &- retentionMillis, limit: retentionLimitInBatch, on: connection)
                    try connection.run("RELEASE retention")
                } catch where error.isConfinedToOneWrite {
                    try connection.run("ROLLBACK TO retention")
                    try connection.run("RELEASE retention")
                }
            } catch {
                return failAll(error)
            }
        }
        do throws(StoreError) {
            try connection.run("COMMIT")
        } catch {
            // A failed COMMIT fails every write in the batch: none of them is stored.
            return failAll(error)
        }
        for (call, result) in zip(batch.calls, callResults) { call.finish(result) }
        return (results, true, expired, deleted)
    }

    /// BEGIN IMMEDIATE, waiting for another process's write lock no longer than `busy_timeout` and no longer than
    /// the batch's writes may wait: each attempt's wait (SQLite's busy timeout) ends at the earliest deadline still
    /// ahead, and when it runs out with the lock still taken, the next attempt waits for the next deadline. It gives
    /// up with SQLite's busy error once every deadline, or `busy_timeout`, has passed. With `busy_timeout` alone, a
    /// write queued while the batch before it waited out that timeout waited a whole timeout more in its own
    /// batch's BEGIN: twice the wait its 503 promises. A batch without writes (outbox changes) waits `busy_timeout`.
    private func begin(_ writes: [PendingWrite]) throws(StoreError) {
        guard let latest = writes.lazy.map(\.deadline).max() else { return try connection.run("BEGIN IMMEDIATE") }
        let giveUp = min(ContinuousClock.now + busyTimeout, latest)
        defer { try? connection.setBusyTimeout(busyTimeout) }
        while true {
            let now = ContinuousClock.now
            // The earliest deadline still ahead (a scan: batches are small, and this runs once per transaction).
            let until = min(giveUp, writes.lazy.map(\.deadline).filter { $0 > now }.min() ?? latest)
            try connection.setBusyTimeout(max(.milliseconds(1), until - now))
            do throws(StoreError) {
                return try connection.run("BEGIN IMMEDIATE")
            } catch where error.code == .busy {
                let after = ContinuousClock.now
                // Out of time, or busy without waiting what it was given (SQLite answers some busy states without
                // its busy handler; trying again would spin): the error stands. The handler's wait is whole
                // milliseconds, rounded down.
                if after >= giveUp || after < until - .milliseconds(2) { throw error }
            }
        }
    }

    /// Writes one order in its own savepoint. An error confined to this write rolls back the savepoint and
    /// becomes this write's result; any other error is thrown and aborts the transaction.
    private func writeInSavepoint(_ write: PendingWrite) throws(StoreError) -> Result<CreateOutcome, StoreError> {
        try connection.run(Self.savepoint)
        do throws(StoreError) {
            let outcome = try writeOne(write)
            try connection.run(Self.release)
            return .success(outcome)
        } catch where error.isConfinedToOneWrite {
            try connection.run(Self.rollbackToSavepoint)
            try connection.run(Self.release)
            return .failure(error)
        }
    }

    private func writeOne(_ write: PendingWrite) throws(StoreError) -> CreateOutcome {
        let nowMillis = wallClock()
        if let request = write.idempotency, let existing = try storedOrder(for: request, nowMillis: nowMillis) {
            return .replayed(existing)
        }
        let (id, createdAt) = ids.next(nowMillis: nowMillis)
        var stored = StoredOrder(id: id, createdAtMillis: createdAt, order: write.order)
        try OrderRows.insert(stored, idempotency: write.idempotency, on: connection)
        for step in steps {
            try step.write(connection, &stored)
        }
        return .created(stored)
    }

    /// The order created with `request.key` while that key is live (`created_at_ms + TTL > now`) and
    /// `request` repeats the body stored with it; throws a conflict for a different body; nil when no order
    /// has the key. An order whose key has expired gives up the key and its body here (nil is returned), in
    /// the write's savepoint, so the new order can take the key. Sees the writes earlier in the same batch, so
    /// duplicates within one batch replay too.
    private func storedOrder(for request: IdempotencyRequest, nowMillis: Int64) throws(StoreError) -> StoredOrder? {
        let statement = try connection.cached(Self.selectByKey)
        defer { statement.reset() }
        try statement.bind(1, request.key)
        guard try statement.step() else { return nil }
        guard statement.int64(1) &+ idempotencyTTLMillis > nowMillis else {
            let expiredOrderID = statement.text(0)
            statement.reset()
            try clearKey(ofOrder: expiredOrderID)
            return nil
        }
        guard statement.blob(8, equals: request.body) else { throw StoreError.idempotencyConflict() }
        return try OrderRows.decode(statement)
    }

    private func clearKey(ofOrder id: String) throws(StoreError) {
        let statement = try connection.cached(Self.clearKey)
        defer { statement.reset() }
        try statement.bind(1, id)
        try statement.step()
    }

    /// `outbox.retention`: deletes up to `retentionBatch` done tasks that finished more than the retention ago,
    /// in one statement of its own (its own short transaction), when the writer has no batch to carry it.
    /// Returns how many it deleted (a full batch: there may be more).
    private func deleteDoneTasks() -> Int {
        do throws(StoreError) {
            let deleted = try OutboxRows.deleteDone(
                finishedBeforeMillis: wallClock() &- retentionMillis, limit: tuning.retentionBatch, on: connection)
            queue.update { $0.deletedDoneTasks += deleted }
            return deleted
        } catch {
            // Not urgent: the rows are only kept longer. Try again next interval.
            connection.rollbackQuietly()
            return 0
        }
    }

    /// Clears the key and request body of orders whose key has expired, in a transaction of its own: walks
    /// the primary key from `purgedThrough` up to the first id of the oldest millisecond whose keys are still
    /// live, at most `purgeScanLimit` orders and `purgeLimit` keys. True when there may be more.
    private func purgeExpiredKeys() -> Bool {
        // Keys of orders created at or before `cutoff` have expired (created_at_ms + TTL <= now).
        let cutoff = wallClock() &- idempotencyTTLMillis
        guard cutoff >= 0 else { return false }
        let end = UUIDv7.lowerBound(millis: cutoff + 1)
        guard purgedThrough < end else { return false }
        do throws(StoreError) {
            try connection.run("BEGIN IMMEDIATE")
            var keyed: [String] = []
            var lastVisited: String?
            var visited = 0
            do {
                let scan = try connection.cached(Self.purgeScan)
                defer { scan.reset() }
                try scan.bind(1, purgedThrough)
                try scan.bind(2, end)
                try scan.bind(3, Int64(tuning.purgeScanLimit))
                while keyed.count < tuning.purgeLimit, try scan.step() {
                    visited += 1
                    let id = scan.text(0)
                    if scan.int64(1) != 0 { keyed.append(id) }
                    lastVisited = id
                }
            }
            var cleared = 0
            for id in keyed {
                try clearKey(ofOrder: id)
                cleared += connection.changes
            }
            try connection.run("COMMIT")
            if let lastVisited { purgedThrough = lastVisited }
            queue.update { $0.purgedKeys += cleared }
            return visited >= tuning.purgeScanLimit || keyed.count >= tuning.purgeLimit
        } catch {
            // Not urgent: expired keys are ignored anyway. Try again next interval.
            connection.rollbackQuietly()
            return false
        }
    }
}
