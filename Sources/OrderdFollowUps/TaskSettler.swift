import Logging
import OrderdExecutor
import OrderdOrders
import OrderdStore
import OrderdSupport
import Synchronization

/// Records what became of each task: takes `RetryPolicy`'s decision, queues it in the outbox under the task's
/// lease, drops the lease from the book, counts it by kind, and logs one line without personal data.
///
/// Tasks hand their outcome here (not to `FollowUps`), so the settler, the dispatcher and the executor can each
/// be built and tested alone.
final class TaskSettler: Sendable {
    let outbox: any OutboxStore
    let leases: LeaseBook
    let logger: Logger
    private let settings: Reloadable<FollowUpSettings>
    private let wallClock: @Sendable () -> Int64
    // Counted by every thread that settles a task (pool, audit writer, request threads): a pthread mutex, not a
    // `Synchronization.Mutex` (see PThreadLocked).
    private let counters = PThreadLocked(FollowUpCounters())
    private let dropWarning = Mutex(ContinuousClock.Instant?.none)
    /// Metrics hook: gets every attempt's outcome (`observeOutcomes(_:)`).
    private let outcomeObserver = Reloadable<(any TaskOutcomeObserver)?>(nil)

    init(
        outbox: any OutboxStore, leases: LeaseBook, settings: FollowUpSettings, logger: Logger,
        wallClock: @escaping @Sendable () -> Int64
    ) {
        self.outbox = outbox
        self.leases = leases
        self.settings = Reloadable(settings)
        self.logger = logger
        self.wallClock = wallClock
    }

    /// The settings in force: read once per use, replaced whole on reload.
    var current: FollowUpSettings {
        get { settings.value }
        set { settings.value = newValue }
    }

    func now() -> Int64 { wallClock() }

    /// Metrics hook: `observer` gets the outcome of every task attempt from now on.
    func observeOutcomes(_ observer: any TaskOutcomeObserver) { outcomeObserver.value = observer }

    /// Counts since start, for `/status`, `/metrics` and the tests.
    var statistics: FollowUpCounters { counters.withLock { $0 } }

    // MARK: Durable tasks

    func settle(_ task: OutboxTask, _ outcome: ExecutorOutcome) {
        outcomeObserver.value?.taskFinished(task.key.kind, outcome)  // metrics hook
        let attempt = task.previousAttempts + 1
        let now = wallClock()
        let current = self.current
        let policy = current.policies[task.key.kind] ?? TaskPolicy(timeout: task.timeout, maxAttempts: 1, maxAge: .zero)
        let decision = RetryPolicy.decide(
            outcome, attempt: attempt, policy: policy, ageFromMillis: task.ageFromMillis, nowMillis: now,
            backoff: RetryPolicy.backoff(
                afterAttempt: attempt, base: current.executor.retryBackoff, cap: current.executor.retryBackoffMax,
                jitter: Double.random(in: 0...1)))
        switch outcome {
        case .timedOut: counters.withLock { $0.timedOut += 1 }
        case .stuck: counters.withLock { $0.stuck += 1 }
        default: break
        }
        record(decision, for: task.lease, attempt: attempt, duration: outcome.duration, nowMillis: now)
    }

    /// Writes `decision` for the task held under `lease` and forgets the lease.
    func record(_ decision: RetryPolicy.Decision, for lease: TaskLease, attempt: Int, duration: Duration, nowMillis: Int64) {
        leases.drop(lease.key, owner: lease.owner)
        let kind = lease.key.kind.rawValue
        switch decision {
        case .done:
            outbox.record(.done(lease.key, owner: lease.owner, atMillis: nowMillis))
            counters.withLock { $0.count(.done, kind: kind) }
            logOutcome(lease.key, attempt: attempt, duration: duration, result: "done", error: nil)
        case .retry(let at, let error):
            outbox.record(.retry(lease.key, owner: lease.owner, retryAtMillis: at, error: error))
            counters.withLock { $0.count(.retried, kind: kind) }
            logOutcome(lease.key, attempt: attempt, duration: duration, result: "retry", error: error)
        case .dead(let reason, let message):
            outbox.record(.dead(lease.key, owner: lease.owner, atMillis: nowMillis, error: message))
            counters.withLock { $0.count(.dead(reason), kind: kind) }
            logOutcome(lease.key, attempt: attempt, duration: duration, result: "dead", error: message)
        case .release:
            outbox.record(.release([lease.key], owner: lease.owner))
            if duration > .zero {
                logOutcome(lease.key, attempt: attempt, duration: duration, result: "cancelled_at_stop", error: nil)
            }
        }
    }

    /// Gives up leases without an attempt (queue full, no handler any more): the tasks stay pending.
    func release(_ keys: [TaskKey], owner: String) {
        guard !keys.isEmpty else { return }
        for key in keys { leases.drop(key, owner: owner) }
        outbox.record(.release(keys, owner: owner))
    }

    /// Durable tasks that found the executor's queue full and were left to the outbox.
    func overflowed(_ count: Int) { counters.withLock { $0.overflowed += count } }

    /// Rows a claim marked dead because they cannot be read: counted, one error line each (a row is marked
    /// dead once, so it is logged once).
    func unreadable(_ tasks: [UnreadableTask]) {
        for task in tasks {
            let kind = TaskKind(rawValue: task.kind).map(\.rawValue) ?? "unknown"
            counters.withLock { $0.count(.dead(.unreadable), kind: kind) }
            logger.error("task", metadata: [
                "kind": "\(task.kind)", "task_id": "\(task.orderID):\(task.kind)", "result": "dead", "error": "\(task.reason)",
            ])
        }
    }

    /// An SMS task the store wrote dead with its order (`task.sms.per_recipient`): counted and logged like any
    /// dead task, no outbox change (the row is final already, and nobody holds a lease on it).
    /// Logged at notice, not error: it is the limit doing its job, and a pumping attempt would otherwise fill the
    /// log with errors (the counter is what to alert on).
    func throttled(_ key: TaskKey) {
        counters.withLock { $0.count(.dead(.throttled), kind: key.kind.rawValue) }
        logOutcome(key, attempt: 0, duration: .zero, result: "dead", error: "throttled (task.sms.per_recipient)", level: .notice)
    }

    // MARK: Best-effort tasks

    func settleBestEffort(_ kind: TaskKind, order: StoredOrder, _ outcome: ExecutorOutcome) {
        outcomeObserver.value?.taskFinished(kind, outcome)  // metrics hook
        switch outcome {
        case .completed: counters.withLock { $0.bestEffortDone += 1 }
        case .notStarted, .cancelledAtStop: counters.withLock { $0.dropped[kind, default: 0] += 1 }
        case .failed(let error, _):
            logger.warning("task failed", metadata: ["kind": "\(kind.rawValue)", "order_id": "\(order.id)", "error": "\(error)"])
        case .timedOut, .stuck:
            logger.warning("task timed out", metadata: ["kind": "\(kind.rawValue)", "order_id": "\(order.id)"])
        }
    }

    func dropped(_ kind: TaskKind) {
        let total = counters.withLock { counters in
            counters.dropped[kind, default: 0] += 1
            return counters.dropped.values.reduce(0, +)
        }
        // At most one warning per 10 s, however many are dropped.
        let now = ContinuousClock.now
        let due = dropWarning.withLock { last in
            guard last.map({ now - $0 >= .seconds(10) }) ?? true else { return false }
            last = now
            return true
        }
        if due {
            logger.warning(
                "executor queue full: best-effort task dropped",
                metadata: ["kind": "\(kind.rawValue)", "dropped_total": "\(total)"])
        }
    }

    private func logOutcome(
        _ key: TaskKey, attempt: Int, duration: Duration, result: String, error: String?, level: Logger.Level? = nil
    ) {
        // A task that did its work is logged at debug: the counters (`orderd_tasks_total`, /status) count those,
        // and at info they would be most of the log (a line per task, two or three per order). What needs a
        // person (a retry, a dead task, a stop) keeps its line at warning or error.
        let level: Logger.Level = level ?? (result == "done" ? .debug : (result == "dead" ? .error : .warning))
        logger.log(level: level, "task", metadata: {
            var metadata: Logger.Metadata = [
                "kind": "\(key.kind.rawValue)", "task_id": "\(key)", "attempt": "\(attempt)",
                "duration_ms": "\(duration.millisecondsText)", "result": "\(result)",
            ]
            if let error { metadata["error"] = "\(error)" }
            return metadata
        }())
    }
}

extension ExecutorOutcome {
    /// How long the attempt ran; zero when it never started.
    var duration: Duration {
        switch self {
        case .completed(let d), .failed(_, let d), .timedOut(let d), .stuck(let d), .cancelledAtStop(let d): return d
        case .notStarted: return .zero
        }
    }
}

/// Gets the outcome of every follow-up task attempt, on the executor worker that settles it (metrics). Must be
/// quick and never block.
package protocol TaskOutcomeObserver: Sendable {
    func taskFinished(_ kind: TaskKind, _ outcome: ExecutorOutcome)
}
