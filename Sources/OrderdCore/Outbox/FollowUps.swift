import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The asynchronous half of orderd: the follow-up work of every new order.
///
/// - The order's durable tasks are written in the order's own transaction (`OutboxInsertion`), leased by this
///   process.
/// - Once the response is finished, the request thread calls `submit(for:)`: an O(1) hand-off per task to the
///   bounded executor, never a wait. A durable task that finds the queue full gives up its lease and stays
///   pending in the outbox, where `OutboxDispatcher` picks it up when capacity frees; a best-effort task is
///   dropped and counted.
/// - Every outcome is recorded in the outbox without waiting (done, retry at a backoff with jitter, or dead
///   after `max_attempts` or `max_age`), and logged as one line without personal data.
public final class FollowUps: Sendable {
    /// This process's name on leases: host, pid and a random part, so a restarted process never mistakes an
    /// old lease for its own.
    public let owner: String
    /// The executor tasks go to now. A reload that changes its size puts a new one here and lets the old one
    /// drain in the background (what it never started goes back to the outbox and comes to the new one).
    private let executorBox: Mutex<BoundedExecutor>
    private let retiring = Mutex<[(executor: BoundedExecutor, thread: StoreThread?)]>([])
    var executor: BoundedExecutor { executorBox.withLock { $0 } }
    let outbox: any OutboxStore
    private let settings: Mutex<Settings>
    private let counters = Mutex(FollowUpCounters())
    private let dropWarning = Mutex(ContinuousClock.Instant?.none)
    let logger: Logger
    private let wallClock: @Sendable () -> Int64
    private let dispatcherBox = Mutex<OutboxDispatcher?>(nil)
    /// Metrics hook: gets every attempt's outcome (`observeOutcomes(_:)`).
    private let outcomeObserver = Mutex<(any TaskOutcomeObserver)?>(nil)

    /// What `FollowUps` reads from the configuration, and what each kind runs with: one lock, one copy per use.
    struct Settings: Sendable {
        var kinds: [TaskKind]
        var policies: [TaskKind: TaskPolicy]
        var executor: OrderdConfiguration.Executor
        var handlers: [TaskKind: any FollowUpHandler]

        init(_ configuration: OrderdConfiguration, handlers: [TaskKind: any FollowUpHandler]) {
            kinds = configuration.enabledTaskKinds
            policies = Dictionary(uniqueKeysWithValues: TaskKind.allCases.map { ($0, configuration.policy(for: $0)) })
            executor = configuration.executor
            self.handlers = handlers
        }
    }

    public init(
        configuration: OrderdConfiguration,
        owner: String = FollowUps.makeOwner(),
        outbox: any OutboxStore,
        handlers: [TaskKind: any FollowUpHandler],
        logger: Logger,
        wallClock: @escaping @Sendable () -> Int64 = SQLiteOrderStore.unixMillis
    ) {
        self.owner = owner
        self.outbox = outbox
        self.settings = Mutex(Settings(configuration, handlers: handlers))
        self.logger = logger
        self.wallClock = wallClock
        self.executorBox = Mutex(BoundedExecutor(
            configuration: Self.executorConfiguration(configuration.executor),
            logger: logger))
    }

    /// No spinning before a worker parks: on a small machine the request threads need that CPU more than a
    /// follow-up task needs the microseconds a parked worker takes to wake (no throughput difference measured
    /// between 0 and 20 µs in bench/executor).
    static func executorConfiguration(_ executor: OrderdConfiguration.Executor) -> BoundedExecutor.Configuration {
        var configuration = BoundedExecutor.Configuration(workers: executor.workers, queueCapacity: executor.queueCapacity)
        configuration.searchBeforeParking = .zero
        return configuration
    }

    /// What the store writes with each new order: the durable kinds, leased by this process.
    public static func insertion(for configuration: OrderdConfiguration, owner: String) -> OutboxInsertion {
        OutboxInsertion(kinds: configuration.enabledTaskKinds, owner: owner, lease: configuration.executor.leaseTimeout)
    }

    public static func makeOwner() -> String {
        var name = [UInt8](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        let host = String(decoding: name.prefix { $0 != 0 }, as: UTF8.self)
        var random = SystemRandomNumberGenerator()
        let suffix = String(UInt32.random(in: 0...UInt32.max, using: &random), radix: 16)
        return "\(host):\(getpid()):\(suffix)"
    }

    /// Starts the workers and the dispatcher, which first picks up whatever the outbox holds: tasks left
    /// pending by an earlier run, and, once their leases run out, tasks of a process that died.
    public func start() throws {
        executor.start()
        let dispatcher = OutboxDispatcher(followUps: self)
        try dispatcher.start()
        dispatcherBox.withLock { $0 = dispatcher }
    }

    /// Lets running and queued tasks go on until `drainDeadline`, cancels what still runs, releases what never
    /// started (it stays pending in the outbox for the next start), stops the dispatcher.
    public func stop(drainDeadline: ContinuousClock.Instant) -> ExecutorStopReport {
        let dispatcher = dispatcherBox.withLock { box in
            defer { box = nil }
            return box
        }
        dispatcher?.stop()
        let report = executor.stop(drainDeadline: drainDeadline)
        for old in retiring.withLock({ $0 }) {
            _ = old.executor.stop(drainDeadline: drainDeadline)  // waits for the retiring thread's own stop
            old.thread?.join()
        }
        return report
    }

    /// A reload: new policies, backoff and executor limits for tasks that start from now on, and new handlers
    /// (gateway URLs, the SMS driver). Which durable kinds a new order gets is fixed at start: the store
    /// writes them in the order's transaction, so `task.webhook.url` may change but not turn on or off here.
    public func reconfigure(_ configuration: OrderdConfiguration, handlers newHandlers: [TaskKind: any FollowUpHandler]) {
        settings.withLock { current in
            var next = Settings(configuration, handlers: current.handlers.merging(newHandlers) { _, new in new })
            next.kinds = current.kinds.filter(\.isDurable) + next.kinds.filter { !$0.isDurable }
            current = next
        }
        let size = Self.executorConfiguration(configuration.executor)
        let current = executor
        guard current.configuration.workers != size.workers || current.configuration.queueCapacity != size.queueCapacity
        else { return }
        let replacement = BoundedExecutor(configuration: size, logger: logger)
        replacement.start()
        executorBox.withLock { $0 = replacement }
        // The old executor finishes what it runs and has queued, within drain_timeout, on a thread of its own;
        // what it never starts is released to the outbox. Joined at the stop.
        let drain = configuration.executor.drainTimeout
        let thread = try? StoreThread(name: "orderd-executor-retire") { _ = current.stop(drainDeadline: .now + drain) }
        retiring.withLock { $0.append((current, thread)) }
    }

    /// The executor settings in force (the dispatcher reads them on every round).
    var executorSettings: OrderdConfiguration.Executor { settings.withLock { $0.executor } }

    // MARK: Request threads

    /// The work to run once the response for `order` is finished: hands its tasks to the executor.
    public func afterResponse(for order: StoredOrder) -> @Sendable () -> Void {
        { [self] in submit(for: order) }
    }

    /// Hands every task of a just-created order to the executor. O(1) per task, never waits.
    func submit(for order: StoredOrder) {
        let current = settings.withLock { $0 }
        let executor = self.executor
        var released: [TaskKey] = []
        for kind in current.kinds {
            guard let handler = current.handlers[kind], let policy = current.policies[kind] else { continue }
            if kind.isDurable {
                let key = TaskKey(orderID: order.id, kind: kind)
                let task = OutboxTask(
                    key: key, order: order, previousAttempts: 0, ageFromMillis: order.createdAtMillis,
                    timeout: policy.timeout, handler: handler, followUps: self)
                if !executor.trySubmit(task) { released.append(key) }
            } else {
                let task = BestEffortTask(kind: kind, order: order, timeout: policy.timeout, handler: handler, followUps: self)
                if !executor.trySubmit(task) { dropped(kind) }
            }
        }
        if !released.isEmpty {
            counters.withLock { $0.overflowed += released.count }
            outbox.record(.release(released, owner: owner))
            dispatcherBox.withLock { $0 }?.poke()
        }
    }

    private func dropped(_ kind: TaskKind) {
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

    // MARK: Dispatcher

    /// Claims due tasks (up to the executor's free capacity) and submits them. Returns how many were claimed.
    func refill(limit: Int) throws(StoreError) -> Int {
        let current = settings.withLock { $0 }
        let executor = self.executor
        let now = wallClock()
        let claimed = try outbox.claimDue(
            owner: owner, limit: limit, nowMillis: now, leaseUntilMillis: now + current.executor.leaseTimeout.millis)
        var released: [TaskKey] = []
        for task in claimed {
            guard let handler = current.handlers[task.key.kind], let policy = current.policies[task.key.kind] else {
                released.append(task.key)
                continue
            }
            if now - task.ageFromMillis > policy.maxAge.millis {
                outbox.record(.dead(task.key, owner: owner, atMillis: now, error: "expired: older than max_age \(ConfigValue.formatDuration(policy.maxAge)) before this attempt"))
                logOutcome(task.key, attempt: task.attempts, duration: .zero, result: "dead", error: "expired before the attempt")
                counters.withLock { $0.dead += 1 }
                continue
            }
            let executorTask = OutboxTask(
                key: task.key, order: task.order, previousAttempts: task.attempts, ageFromMillis: task.ageFromMillis,
                timeout: policy.timeout, handler: handler, followUps: self)
            if !executor.trySubmit(executorTask) { released.append(task.key) }
        }
        if !released.isEmpty { outbox.record(.release(released, owner: owner)) }
        return claimed.count
    }

    /// Extends the leases of every task this process holds.
    func renewLeases() {
        let lease = settings.withLock { $0.executor.leaseTimeout }
        outbox.record(.renew(owner: owner, untilMillis: wallClock() + lease.millis))
    }

    // MARK: Outcomes

    /// Metrics hook: `observer` gets the outcome of every task attempt from now on.
    func observeOutcomes(_ observer: any TaskOutcomeObserver) { outcomeObserver.withLock { $0 = observer } }

    func settle(_ task: OutboxTask, _ outcome: ExecutorOutcome) {
        outcomeObserver.withLock { $0 }?.taskFinished(task.key.kind, outcome)  // metrics hook
        let attempt = task.previousAttempts + 1
        let now = wallClock()
        let failure: (error: String, permanent: Bool, duration: Duration)
        switch outcome {
        case .completed(let duration):
            outbox.record(.done(task.key, owner: owner, atMillis: now))
            counters.withLock { $0.done += 1 }
            logOutcome(task.key, attempt: attempt, duration: duration, result: "done", error: nil)
            return
        case .notStarted, .cancelledAtStop:
            // Not the task's fault: no attempt counted; the next start (or another process) runs it.
            outbox.record(.release([task.key], owner: owner))
            if case .cancelledAtStop(let duration) = outcome {
                logOutcome(task.key, attempt: attempt, duration: duration, result: "cancelled_at_stop", error: nil)
            }
            return
        case .failed(let error, let duration):
            let followUpError = error as? FollowUpError
            failure = (followUpError?.description ?? "\(error)", followUpError?.isPermanent ?? false, duration)
        case .timedOut(let duration):
            counters.withLock { $0.timedOut += 1 }
            failure = ("timed out after \(ConfigValue.formatDuration(task.timeout))", false, duration)
        case .stuck(let duration):
            counters.withLock { $0.stuck += 1 }
            failure = ("stuck: still running \(duration) after its deadline was cancelled", false, duration)
        }
        let policy = settings.withLock { $0.policies[task.key.kind] } ?? TaskPolicy(timeout: task.timeout, maxAttempts: 1, maxAge: .zero)
        let retryAt = now + backoff(afterAttempt: attempt).millis
        let reason: String?
        if failure.permanent {
            reason = "rejected: \(failure.error)"
        } else if attempt >= policy.maxAttempts {
            reason = "gave up after \(attempt) attempts: \(failure.error)"
        } else if retryAt - task.ageFromMillis > policy.maxAge.millis {
            reason = "gave up: the next attempt would be past max_age \(ConfigValue.formatDuration(policy.maxAge)): \(failure.error)"
        } else {
            reason = nil
        }
        if let reason {
            outbox.record(.dead(task.key, owner: owner, atMillis: now, error: reason))
            counters.withLock { $0.dead += 1 }
            logOutcome(task.key, attempt: attempt, duration: failure.duration, result: "dead", error: reason)
        } else {
            outbox.record(.retry(task.key, owner: owner, retryAtMillis: retryAt, error: failure.error))
            counters.withLock { $0.retried += 1 }
            logOutcome(task.key, attempt: attempt, duration: failure.duration, result: "retry", error: failure.error)
        }
    }

    func settleBestEffort(_ kind: TaskKind, order: StoredOrder, _ outcome: ExecutorOutcome) {
        outcomeObserver.withLock { $0 }?.taskFinished(kind, outcome)  // metrics hook
        switch outcome {
        case .completed: counters.withLock { $0.bestEffortDone += 1 }
        case .notStarted, .cancelledAtStop: counters.withLock { $0.dropped[kind, default: 0] += 1 }
        case .failed(let error, _):
            logger.warning("task failed", metadata: ["kind": "\(kind.rawValue)", "order_id": "\(order.id)", "error": "\(error)"])
        case .timedOut, .stuck:
            logger.warning("task timed out", metadata: ["kind": "\(kind.rawValue)", "order_id": "\(order.id)"])
        }
    }

    /// Exponential: `retry_backoff` × 2^(attempt-1), at most `retry_backoff_max`, with "equal jitter" (a random
    /// point in the upper half), so tasks that failed together do not come back together.
    func backoff(afterAttempt attempt: Int) -> Duration {
        let executorSettings = settings.withLock { $0.executor }
        let base = Double(executorSettings.retryBackoff.millis)
        let cap = Double(executorSettings.retryBackoffMax.millis)
        let full = min(cap, base * pow(2, Double(min(attempt - 1, 40))))
        let millis = full / 2 + Double.random(in: 0...(full / 2))
        return .milliseconds(Int64(millis))
    }

    private func logOutcome(_ key: TaskKey, attempt: Int, duration: Duration, result: String, error: String?) {
        let level: Logger.Level = result == "done" ? .info : (result == "dead" ? .error : .warning)
        logger.log(level: level, "task", metadata: {
            var metadata: Logger.Metadata = [
                "kind": "\(key.kind.rawValue)", "task_id": "\(key)", "attempt": "\(attempt)",
                "duration_ms": "\(HTTPEdge.milliseconds(duration))", "result": "\(result)",
            ]
            if let error { metadata["error"] = "\(error)" }
            return metadata
        }())
    }

    /// Counts since start, for `/status` and the tests.
    public var statistics: FollowUpCounters { counters.withLock { $0 } }
}

/// Gets the outcome of every follow-up task attempt, on the executor worker that settles it (metrics). Must be
/// quick and never block.
protocol TaskOutcomeObserver: Sendable {
    func taskFinished(_ kind: TaskKind, _ outcome: ExecutorOutcome)
}

/// What follow-up work did since start.
public struct FollowUpCounters: Sendable, Equatable {
    public var done = 0
    public var retried = 0
    public var dead = 0
    public var timedOut = 0
    public var stuck = 0
    /// Durable tasks that found the queue full and were left to the outbox.
    public var overflowed = 0
    public var bestEffortDone = 0
    /// Best-effort tasks dropped (queue full, or never started at a stop), by kind.
    public var dropped: [TaskKind: Int] = [:]
}
