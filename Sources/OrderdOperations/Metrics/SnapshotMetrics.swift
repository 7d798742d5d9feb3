import Logging
import OrderdConfig
import OrderdExecutor
import OrderdFollowUps
import OrderdStore
import OrderdSupport
import Prometheus
import Synchronization

/// The series read at scrape time from snapshots: the executor, the follow-up counters, the outbox, the store's
/// queue, the audit file's queue and the request threads.
///
/// The executor's and the follow-ups' own counters are exposed as Prometheus counters, incremented at each
/// scrape by how much the snapshot grew since the one before (so `rate()` works and the value equals the
/// snapshot's since-start figure); queue depths, workers and the outbox are gauges set at each scrape.
final class SnapshotMetrics: Sendable {
    private struct Seen {
        var executor = ExecutorStatistics()
        var followUps = FollowUpCounters()
    }

    private let sources: MetricsSources
    /// The snapshots the counters were last brought up to; the lock makes concurrent scrapes take turns, so
    /// each growth is added once.
    private let seen = Mutex(Seen())

    // Executor.
    private let queued: Gauge
    private let queueCapacity: Gauge
    private let running: Gauge
    private let workers: Gauge
    private let idleWorkers: Gauge
    private let abandonedWorkers: Gauge
    private let submitted: Counter
    private let rejected: Counter
    private let finished: [(field: KeyPath<ExecutorStatistics, Int> & Sendable, counter: Counter)]
    // Follow-ups.
    private let registry: PrometheusCollectorRegistry
    /// `tasks_done{kind}`, `tasks_retried{kind}`, `tasks_dead{kind,reason}`: made up front for the known durable
    /// kinds (so an alert on `kind="sms"` sees 0, not nothing), on first use for `unknown`.
    private let outcomeCounters = Mutex([FollowUpCounters.OutcomeKey: Counter]())
    private let bestEffortDone: Counter
    private let overflowed: Counter
    private let dropped: [TaskKind: Counter]
    // Outbox and store.
    private let outboxPending: Gauge
    /// `outbox_pending_by_kind{kind}`, made on first use (a kind no handler here runs shows up too).
    private let outboxPendingByKind = Mutex([String: Gauge]())
    private let outboxDead: Gauge
    private let outboxOldestAge: Gauge
    private let outboxReadErrors: Counter
    private let queuedWrites: Gauge?
    private let auditQueued: Gauge
    // Request threads: the server is made after the router, so it is attached later.
    private let threadCounts = Mutex<(@Sendable () -> (busy: Int, total: Int))?>(nil)
    private let busyThreads: Gauge
    private let idleThreads: Gauge

    init(registry: PrometheusCollectorRegistry, sources: MetricsSources) {
        self.sources = sources
        self.registry = registry
        func gauge(_ name: String, _ unit: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: .orderd(name, unit: unit, help: help))
        }
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: .orderd(name, unit: "total", help: help))
        }
        queued = gauge("executor_queued", "tasks", "Follow-up tasks waiting in the executor's queue.")
        queueCapacity = gauge("executor_queue_capacity", "tasks", "Tasks the executor's queue holds (executor.queue_capacity).")
        running = gauge("executor_running", "tasks", "Follow-up tasks running now.")
        workers = gauge("executor", "workers", "Executor worker threads (executor.workers).")
        idleWorkers = gauge("executor_idle", "workers", "Executor workers waiting for a task.")
        abandonedWorkers = gauge(
            "executor_abandoned", "workers", "Workers given up as stuck whose task has not returned yet.")
        submitted = counter("executor_tasks_submitted", "Tasks the executor accepted.")
        rejected = counter("executor_tasks_rejected", "Tasks the executor refused (queue full, or stopping).")
        let finishedHelp = "Tasks the executor finished, by outcome."
        let outcomes: [(KeyPath<ExecutorStatistics, Int> & Sendable, String)] = [
            (\.completed, "completed"), (\.failed, "failed"), (\.timedOut, "timed_out"), (\.stuck, "stuck"),
            (\.cancelledAtStop, "cancelled_at_stop"), (\.notStarted, "not_started"),
        ]
        finished = outcomes.map { field, label in
            (field, registry.makeCounter(
                descriptor: .orderd("executor_tasks_finished", unit: "total", help: finishedHelp),
                labels: [("outcome", label)]))
        }
        bestEffortDone = counter("tasks_best_effort_done", "Best-effort follow-up tasks done.")
        overflowed = counter(
            "tasks_overflowed", "Durable tasks that found the executor's queue full and were left to the outbox.")
        let droppedHelp = "Best-effort follow-up tasks dropped (queue full, or never started at a stop), by kind."
        dropped = Dictionary(uniqueKeysWithValues: TaskKind.allCases.filter { !$0.isDurable }.map { kind in
            (kind, registry.makeCounter(
                descriptor: .orderd("tasks_dropped", unit: "total", help: droppedHelp),
                labels: [("kind", kind.rawValue)]))
        })
        outboxPending = gauge("outbox_pending", "tasks", "Durable tasks pending in the outbox (queued, running or waiting for a retry).")
        outboxDead = gauge("outbox_dead", "tasks", "Dead tasks in the outbox, waiting for `orderd tasks retry`.")
        outboxOldestAge = gauge(
            "outbox_oldest_pending_age", "seconds", "Age of the oldest pending task in the outbox; 0 when none is pending.")
        outboxReadErrors = counter("outbox_read_errors", "Scrapes that could not read the outbox counts from the store.")
        queuedWrites = sources.queuedWrites == nil
            ? nil : gauge("store_queued", "writes", "Orders waiting for the group-commit writer.")
        auditQueued = gauge(
            "audit_queued", "lines", "Audit lines waiting for the audit file's writer (audit tasks skip the executor).")
        let threadsHelp = "Request threads by state: busy with a connection, or idle waiting for one."
        busyThreads = registry.makeGauge(
            descriptor: .orderd("request_threads", unit: "", help: threadsHelp), labels: [("state", "busy")])
        idleThreads = registry.makeGauge(
            descriptor: .orderd("request_threads", unit: "", help: threadsHelp), labels: [("state", "idle")])
        makeKnownOutcomeSeries()
    }

    /// Where the request-thread gauges are read from (the FastCGI server, once it exists).
    func observeRequestThreads(_ counts: @escaping @Sendable () -> (busy: Int, total: Int)) {
        threadCounts.withLock { $0 = counts }
    }

    /// Brings every series up to the current snapshots.
    func update(logger: Logger?) {
        seen.withLock { seen in
            // Read under the lock: a scrape that read an older snapshot must not come in after a newer one.
            let executor = sources.executor()
            let followUps = sources.followUps()
            submitted.increment(by: Self.growth(seen.executor.submitted, executor.submitted))
            rejected.increment(by: Self.growth(seen.executor.rejected, executor.rejected))
            for (field, counter) in finished {
                counter.increment(by: Self.growth(seen.executor[keyPath: field], executor[keyPath: field]))
            }
            for (key, count) in followUps.byKind {
                outcomeCounter(key).increment(by: Self.growth(seen.followUps.byKind[key] ?? 0, count))
            }
            bestEffortDone.increment(by: Self.growth(seen.followUps.bestEffortDone, followUps.bestEffortDone))
            overflowed.increment(by: Self.growth(seen.followUps.overflowed, followUps.overflowed))
            for (kind, counter) in dropped {
                counter.increment(by: Self.growth(seen.followUps.dropped[kind] ?? 0, followUps.dropped[kind] ?? 0))
            }
            seen = Seen(executor: executor, followUps: followUps)

            queued.set(to: Double(executor.queued))
            queueCapacity.set(to: Double(executor.queueCapacity))
            running.set(to: Double(executor.running))
            workers.set(to: Double(executor.workers))
            idleWorkers.set(to: Double(executor.idleWorkers))
            abandonedWorkers.set(to: Double(executor.abandonedWorkers))
        }
        if let queuedWrites, let count = sources.queuedWrites?() { queuedWrites.set(to: Double(count)) }
        auditQueued.set(to: Double(sources.auditQueued()))
        if let threads = threadCounts.withLock({ $0 })?() {
            busyThreads.set(to: Double(threads.busy))
            idleThreads.set(to: Double(max(0, threads.total - threads.busy)))
        }
        // Outside the lock: a SQLite read that may wait for the disk.
        do {
            let outbox = try sources.outbox()
            outboxPending.set(to: Double(outbox.pending))
            outboxPendingByKind.withLock { gauges in
                // Kinds seen before and gone now read 0, not their last value.
                for kind in Set(gauges.keys).union(outbox.pendingByKind.keys) {
                    let gauge = gauges[kind] ?? registry.makeGauge(
                        descriptor: .orderd("outbox_pending_by_kind", unit: "tasks", help: Self.pendingByKindHelp),
                        labels: [("kind", kind)])
                    gauges[kind] = gauge
                    gauge.set(to: Double(outbox.pendingByKind[kind] ?? 0))
                }
            }
            outboxDead.set(to: Double(outbox.dead))
            let age = outbox.oldestPendingMillis.map { max(0, sources.wallClock() - $0) } ?? 0
            outboxOldestAge.set(to: Double(age) / 1_000)
        } catch {
            // The outbox gauges keep their last values; the error counter tells they are stale.
            outboxReadErrors.increment()
            logger?.warning("metrics: the outbox counts could not be read", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    static let pendingByKindHelp =
        "Durable tasks pending in the outbox by kind, also kinds no handler of this process runs (left alone here)."

    private func outcomeCounter(_ key: FollowUpCounters.OutcomeKey) -> Counter {
        outcomeCounters.withLock { counters in
            if let made = counters[key] { return made }
            let made: Counter
            switch key.result {
            case .done:
                made = registry.makeCounter(
                    descriptor: .orderd("tasks_done", unit: "total", help: "Durable follow-up tasks done (recorded in the outbox), by kind."),
                    labels: [("kind", key.kind)])
            case .retried:
                made = registry.makeCounter(
                    descriptor: .orderd(
                        "tasks_retried", unit: "total", help: "Durable follow-up attempts that failed and were scheduled again, by kind."),
                    labels: [("kind", key.kind)])
            case .dead(let reason):
                made = registry.makeCounter(
                    descriptor: .orderd(
                        "tasks_dead", unit: "total",
                        help: "Durable follow-up tasks given up, by kind and reason: rejected (a permanent failure), attempts (max_attempts used up), expired (past max_age), unreadable (a row that cannot be read), throttled (over task.sms.per_recipient, never sent)."),
                    labels: [("kind", key.kind), ("reason", reason.rawValue)])
            }
            counters[key] = made
            return made
        }
    }

    /// Makes the outcome series of the known durable kinds, at 0.
    private func makeKnownOutcomeSeries() {
        for kind in TaskKind.allCases where kind.isDurable {
            _ = outcomeCounter(.init(kind: kind.rawValue, result: .done))
            _ = outcomeCounter(.init(kind: kind.rawValue, result: .retried))
            for reason in RetryPolicy.DeadReason.allCases { _ = outcomeCounter(.init(kind: kind.rawValue, result: .dead(reason))) }
        }
    }

    private static func growth(_ before: Int, _ now: Int) -> Int64 { Int64(max(0, now - before)) }
}
