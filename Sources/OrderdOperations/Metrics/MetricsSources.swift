import OrderdExecutor
import OrderdFollowUps
import OrderdStore
import OrderdSupport

/// Where the figures read at scrape time come from: snapshots the running parts keep anyway. Closures, so that
/// unit tests can feed their own.
struct MetricsSources: Sendable {
    /// The executor's counters and queue, taken under its lock (cheap).
    var executor: @Sendable () -> ExecutorStatistics
    /// What follow-up work did since start.
    var followUps: @Sendable () -> FollowUpCounters
    /// Pending and dead tasks in the outbox: a SQLite read, so only at scrape time.
    var outbox: @Sendable () throws -> OutboxCounts
    /// Orders queued for the group-commit writer, when the store has one.
    var queuedWrites: (@Sendable () -> Int)?
    /// Lines waiting in the audit file's own queue (audit tasks skip the executor).
    var auditQueued: @Sendable () -> Int
    /// Milliseconds since the Unix epoch (the outbox keeps wall-clock times).
    var wallClock: @Sendable () -> Int64

    /// The figures of a running orderd.
    static func live(followUps: FollowUps, store: any OrderStore, auditLog: AuditLog) -> MetricsSources {
        var queuedWrites: (@Sendable () -> Int)?
        if store.queuedWrites != nil { queuedWrites = { @Sendable in store.queuedWrites ?? 0 } }
        return MetricsSources(
            executor: { followUps.snapshot(withOutbox: false).executor },
            followUps: { followUps.snapshot(withOutbox: false).tasks },
            outbox: { try followUps.snapshot(withOutbox: true).outbox?.get() ?? OutboxCounts() },
            queuedWrites: queuedWrites,
            auditQueued: { auditLog.queuedLines },
            wallClock: WallClock.unixMillis)
    }
}
