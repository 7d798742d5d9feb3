import Logging
import OrderdSupport
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// Writes the outbox changes of one instance (task outcomes, releases, lease renewals) to PostgreSQL in the
/// background, a batch per transaction, so an executor worker never waits for a commit. Also clears expired
/// idempotency keys once a minute.
///
/// Losing a change (PostgreSQL down, a crash) only means the task runs again when its lease runs out, with the
/// same `Idempotency-Key`.
final class OutboxChangeWriter: Sendable {
    private struct Queue {
        var changes: [OutboxChange] = []
        /// Changes ever queued, and ever taken through a transaction (committed or not).
        var enqueued = 0
        var processed = 0
    }
    /// A class around the lock, so the writer Task can share it with `enqueue` and `flush`. A pthread mutex, not a
    /// `Synchronization.Mutex`: every thread that settles a task queues its change here (see PThreadLocked).
    private final class Shared: Sendable {
        let queue = PThreadLocked(Queue())
    }
    private let shared = Shared()
    private let doorbell: AsyncStream<Void>.Continuation
    private let writer: Task<Void, Never>
    private let purger: Task<Void, Never>

    /// Most changes in one transaction.
    static let batchLimit = 512

    private let executor: PostgresExecutor

    init(
        client: PostgresClient, executor: PostgresExecutor, idempotencyTTLMillis: Int64,
        wallClock: @escaping @Sendable () -> Int64, logger: Logger
    ) {
        self.executor = executor
        let (bell, doorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.doorbell = doorbell
        let shared = shared
        writer = Task(executorPreference: executor) {
            for await _ in bell {
                while true {
                    let batch: [OutboxChange] = shared.queue.withLock { queue in
                        let batch = Array(queue.changes.prefix(Self.batchLimit))
                        queue.changes.removeFirst(batch.count)
                        return batch
                    }
                    if batch.isEmpty { break }
                    do {
                        try await client.withTransaction(logger: logger) { connection in
                            for change in batch { try await Self.apply(change, on: connection, logger: logger) }
                        }
                    } catch {
                        logger.warning("could not record task outcomes; the tasks run again when their leases run out", metadata: [
                            "changes": "\(batch.count)",
                            "error": "\(String(reflecting: PostgresCall.storeError(error, "record task outcomes")))"])
                    }
                    shared.queue.withLock { $0.processed += batch.count }
                }
            }
        }
        purger = Task(executorPreference: executor) {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(60))
                if Task.isCancelled { break }
                do {
                    // Through `orders_keyed_by_age`; at most 1000 keys per statement, a statement per minute.
                    try await client.query("""
                        UPDATE orders SET idempotency_key = NULL, request_body = NULL WHERE id IN (
                            SELECT id FROM orders WHERE idempotency_key IS NOT NULL AND created_at_ms < \(wallClock() - idempotencyTTLMillis)
                            ORDER BY created_at_ms LIMIT 1000)
                        """, logger: logger)
                } catch {
                    logger.warning("could not clear expired idempotency keys", metadata: [
                        "error": "\(String(reflecting: PostgresCall.storeError(error, "clear expired keys")))"])
                }
            }
        }
    }

    func enqueue(_ change: OutboxChange) {
        shared.queue.withLock {
            $0.changes.append(change)
            $0.enqueued += 1
        }
        doorbell.yield()
    }

    /// Waits (at most `timeout`) until every change queued before this call went through a transaction.
    /// True when they did.
    func flush(timeout: Duration = .seconds(10)) -> Bool {
        let target = shared.queue.withLock { $0.enqueued }
        let deadline = ContinuousClock.now + timeout
        while shared.queue.withLock({ $0.processed < target }) {
            guard ContinuousClock.now < deadline else { return false }
            usleep(2_000)
        }
        return true
    }

    /// Writes what is queued, then ends (blocks the calling thread, at most 10 s).
    func stop() {
        purger.cancel()
        doorbell.finish()
        let writer = writer
        _ = try? PostgresCall.run("write the last task outcomes", on: executor, deadline: .now + .seconds(10)) { await writer.value }
    }

    private static func apply(_ change: OutboxChange, on connection: PostgresConnection, logger: Logger) async throws {
        func keyed(_ sql: String, _ key: TaskKey, _ owner: String, _ more: (inout PostgresBindings) -> Void) async throws {
            var binds = PostgresBindings(capacity: 5)
            binds.append(key.orderID)
            binds.append(key.kind.rawValue)
            binds.append(owner)
            more(&binds)
            try await connection.query(PostgresQuery(unsafeSQL: OutboxRows.postgres(sql), binds: binds), logger: logger)
        }
        switch change {
        case .done(let key, let owner, let at):
            try await keyed(OutboxRows.done, key, owner) { $0.append(at) }
        case .retry(let key, let owner, let retryAt, let error):
            try await keyed(OutboxRows.retry, key, owner) {
                $0.append(retryAt)
                $0.append(error)
            }
        case .dead(let key, let owner, let at, let error):
            try await keyed(OutboxRows.dead, key, owner) {
                $0.append(at)
                $0.append(error)
            }
        case .release(let keys, let owner):
            for key in keys { try await keyed(OutboxRows.release, key, owner) { _ in } }
        case .renew(let leases, let until):
            // One statement for every lease still held, whatever their number.
            var binds = PostgresBindings(capacity: 4)
            binds.append(until)
            binds.append(leases.map(\.key.orderID))
            binds.append(leases.map(\.key.kind.rawValue))
            binds.append(leases.map(\.owner))
            try await connection.query(PostgresQuery(unsafeSQL: Self.renew, binds: binds), logger: logger)
        }
    }

    private static let renew = """
        UPDATE tasks t SET lease_until_ms = $1
        FROM unnest($2::text[], $3::text[], $4::text[]) AS held (order_id, kind, lease_owner)
        WHERE t.order_id = held.order_id AND t.kind = held.kind AND t.lease_owner = held.lease_owner AND t.state = 'pending'
        """
}
