import Logging
import OrderdSupport
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// `outbox.retention` on PostgreSQL: deletes done tasks older than the retention in the background, one small
/// statement at a time, so no statement holds many row locks or runs long beside the instances' claims.
///
/// Every instance runs one; they may race for the same rows, which costs a wasted statement now and then and
/// nothing else (a row deleted by one is simply not found by the other).
final class PostgresRetention: Sendable {
    /// Most rows per statement.
    static let batchLimit = 500
    // By ctid: a plain row address, the cheapest way to delete exactly the rows the subquery found (`= ANY
    // (ARRAY(…))` makes it a TID scan, where `IN (SELECT …)` may plan a walk of the whole table). As in
    // SQLite, `order_id < $1` (the first UUIDv7 of the cutoff's millisecond) bounds the walk of the primary key
    // to orders older than the cutoff: a done task finished after its order was created.
    static let deleteDone = """
        DELETE FROM tasks WHERE state = 'done' AND ctid = ANY (ARRAY(
            SELECT ctid FROM tasks WHERE order_id < $1 AND state = 'done' AND finished_at_ms < $2 LIMIT $3))
        """
    // `orderd tasks purge --dead`, through the partial index `tasks_dead`, oldest first.
    static let purgeDead = """
        DELETE FROM tasks WHERE state = 'dead' AND ctid = ANY (ARRAY(
            SELECT ctid FROM tasks WHERE state = 'dead' AND finished_at_ms < $1 ORDER BY finished_at_ms LIMIT $2))
        RETURNING 1
        """

    private let task: Task<Void, Never>

    /// Starts deleting at once; nil `retention` (or zero) keeps every done task.
    /// - Parameter interval: the pause after a round that found less than a full batch.
    init?(
        client: PostgresClient, executor: PostgresExecutor, retention: Duration, interval: Duration = .seconds(10),
        wallClock: @escaping @Sendable () -> Int64, logger: Logger
    ) {
        guard retention > .zero else { return nil }
        let retentionMillis = retention.millis
        task = Task(executorPreference: executor) {
            while !Task.isCancelled {
                var full = false
                do {
                    let cutoff = wallClock() - retentionMillis
                    var binds = PostgresBindings(capacity: 3)
                    binds.append(UUIDv7.lowerBound(millis: cutoff))
                    binds.append(cutoff)
                    binds.append(Int64(Self.batchLimit))
                    let deleted = try await client.withConnection { connection in
                        let rows = try await connection.query(
                            PostgresQuery(unsafeSQL: Self.deleteDone + " RETURNING 1", binds: binds), logger: logger)
                        return try await rows.decode(Int32.self).reduce(0) { count, _ in count + 1 }
                    }
                    full = deleted >= Self.batchLimit
                } catch {
                    // A statement cut off by the store's close is no failure worth a warning.
                    if Task.isCancelled { break }
                    logger.warning("could not delete done tasks past outbox.retention; trying again later", metadata: [
                        "error": "\(String(reflecting: PostgresCall.storeError(error, "delete done tasks")))"])
                }
                // A full batch: there may be more, go on (after a yield, so claims and outcomes get their turn).
                if full {
                    await Task.yield()
                } else {
                    try? await Task.sleep(for: interval)
                }
            }
        }
    }

    /// Ends the loop; a statement in flight finishes or is cancelled with the pool.
    func stop() { task.cancel() }
}
