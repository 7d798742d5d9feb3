import Logging
import OrderdConfig
import OrderdExecutor
import OrderdOrders
import OrderdStore
import OrderdSupport
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
/// - Every outcome is recorded in the outbox without waiting (`TaskSettler`, deciding with `RetryPolicy`), under
///   the lease the task was handed out with; `OutboxDispatcher` claims what is due and renews only the leases in
///   the `LeaseBook`.
///
/// `FollowUps` wires these parts and swaps the executor and settings on reload; the parts get their
/// collaborators, never a reference back to it.
package final class FollowUps: Sendable {
    /// This process's name on leases: host, pid and a random part, so a restarted process never mistakes an
    /// old lease for its own.
    package var owner: String { leases.owner }
    /// The executor tasks go to now. A reload that changes its size puts a new one here and lets the old one
    /// drain in the background (what it never started goes back to the outbox and comes to the new one).
    private let executorSlot: Reloadable<BoundedExecutor>
    private let retiring = Mutex<[(executor: BoundedExecutor, thread: BackgroundThread)]>([])
    var executor: BoundedExecutor { executorSlot.value }
    let outbox: any OutboxStore
    let leases: LeaseBook
    let settler: TaskSettler
    /// What the store writes with each new order; a reload changes its kinds (the webhook on or off).
    private let insertion: OutboxInsertion?
    let logger: Logger
    private let dispatcherBox = Mutex<OutboxDispatcher?>(nil)

    package init(
        configuration: OrderdConfiguration,
        owner: String = OutboxInsertion.makeOwner(),
        outbox: any OutboxStore,
        insertion: OutboxInsertion? = nil,
        handlers: [TaskKind: any FollowUpHandler],
        logger: Logger,
        wallClock: @escaping @Sendable () -> Int64 = WallClock.unixMillis
    ) {
        self.outbox = outbox
        self.insertion = insertion
        self.leases = LeaseBook(owner: insertion?.owner ?? owner)
        self.settler = TaskSettler(
            outbox: outbox, leases: leases, settings: FollowUpSettings(configuration, handlers: handlers), logger: logger,
            wallClock: wallClock)
        self.logger = logger
        self.executorSlot = Reloadable(BoundedExecutor(
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

    /// What the store writes with each new order: the durable kinds, leased by this process. Hand the same
    /// object to `init(insertion:)`, so a reload can change the kinds.
    package static func insertion(for configuration: OrderdConfiguration, owner: String) -> OutboxInsertion {
        OutboxInsertion(
            kinds: configuration.enabledTaskKinds, owner: owner, lease: configuration.executor.leaseTimeout,
            perRecipient: configuration.sms.perRecipient)
    }


    /// Starts the workers and the dispatcher, which first picks up whatever the outbox holds: tasks left
    /// pending by an earlier run, and, once their leases run out, tasks of a process that died.
    package func start() throws {
        executor.start()
        let dispatcher = OutboxDispatcher(outbox: outbox, leases: leases, settler: settler) { [executorSlot] in
            executorSlot.value
        }
        try dispatcher.start()
        dispatcherBox.withLock { $0 = dispatcher }
        reportUnhandledKinds()
    }

    /// Lets running and queued tasks go on until `drainDeadline`, cancels what still runs, releases what never
    /// started (it stays pending in the outbox for the next start), stops the dispatcher.
    package func stop(drainDeadline: ContinuousClock.Instant) -> ExecutorStopReport {
        let dispatcher = dispatcherBox.withLock { box in
            defer { box = nil }
            return box
        }
        dispatcher?.stop()
        let report = executor.stop(drainDeadline: drainDeadline)
        for old in retiring.withLock({ $0 }) {
            _ = old.executor.stop(drainDeadline: drainDeadline)  // waits for the retiring thread's own stop
            old.thread.stop()
        }
        return report
    }

    /// A reload: new policies, backoff and executor limits for tasks that start from now on, new handlers
    /// (gateway URLs, the SMS driver; the webhook on or off), and the kinds new orders get.
    package func reconfigure(_ configuration: OrderdConfiguration, handlers: [TaskKind: any FollowUpHandler]) {
        settler.current = FollowUpSettings(configuration, handlers: handlers)
        insertion?.update(
            kinds: configuration.enabledTaskKinds, lease: configuration.executor.leaseTimeout,
            perRecipient: configuration.sms.perRecipient)
        reportUnhandledKinds()
        let size = Self.executorConfiguration(configuration.executor)
        let current = executor
        guard current.configuration.workers != size.workers || current.configuration.queueCapacity != size.queueCapacity
        else { return }
        let replacement = BoundedExecutor(configuration: size, logger: logger)
        replacement.start()
        executorSlot.value = replacement
        // The old executor finishes what it runs and has queued, within drain_timeout, on a thread of its own;
        // what it never starts is released to the outbox. Joined at the stop.
        let drain = configuration.executor.drainTimeout
        // If the thread cannot start, the stop drains it instead.
        let thread = BackgroundThread(name: "orderd-retire")
        try? thread.start { _ in _ = current.stop(drainDeadline: .now + drain) }
        retiring.withLock { $0.append((current, thread)) }
    }

    /// One warning line naming the kinds that have pending tasks and no handler here: they stay pending,
    /// untouched by this process, until a handler is configured (here or on another instance) or they pass
    /// `max_age` (then whoever claims them next records them dead, `expired`).
    private func reportUnhandledKinds() {
        let unhandled = OutboxDispatcher.unhandledKinds(settler.current)
        guard !unhandled.isEmpty, let counts = try? outbox.counts() else { return }
        let waiting = unhandled.filter { (counts.pendingByKind[$0.rawValue] ?? 0) > 0 }
        guard !waiting.isEmpty else { return }
        logger.warning("outbox: pending tasks of kinds this process has no handler for are left alone", metadata: [
            "kinds": "\(waiting.map(\.rawValue).joined(separator: ","))",
            "pending": "\(waiting.map { "\($0.rawValue)=\(counts.pendingByKind[$0.rawValue] ?? 0)" }.joined(separator: ","))",
        ])
    }

    /// The executor settings in force.
    var executorSettings: OrderdConfiguration.Executor { settler.current.executor }

    // MARK: Request threads

    /// The work to run once the response for `order` is finished: hands its tasks to the executor.
    package func afterResponse(for order: StoredOrder) -> @Sendable () -> Void {
        { [self] in submit(for: order) }
    }

    /// Hands every task of a just-created order to the executor. O(1) per task, never waits. A durable task
    /// that cannot go to the executor (queue full, or its handler gone since the order was written) gives its
    /// lease up at once and stays pending in the outbox. An SMS task the store wrote dead (`throttled`) is only
    /// counted.
    func submit(for order: StoredOrder) {
        let current = settler.current
        let executor = self.executor
        let owner = leases.owner
        var released: [TaskKey] = []
        var overflowed = 0
        for kind in current.kinds {
            let key = TaskKey(orderID: order.id, kind: kind)
            if kind == .sms && order.smsThrottled {
                settler.throttled(key)
                continue
            }
            guard let handler = current.handlers[kind], let policy = current.policies[kind] else {
                if kind.isDurable { released.append(key) }
                continue
            }
            if kind.isDurable {
                leases.hold(key, owner: owner)
                let task = OutboxTask(
                    lease: TaskLease(key: key, owner: owner), order: order, previousAttempts: 0,
                    ageFromMillis: order.createdAtMillis, timeout: policy.timeout, handler: handler, settler: settler)
                if !task.start(on: executor) {
                    released.append(key)
                    overflowed += 1
                }
            } else {
                let task = BestEffortTask(kind: kind, order: order, timeout: policy.timeout, handler: handler, settler: settler)
                if !executor.trySubmit(task, start: .batched) { settler.dropped(kind) }
            }
        }
        if !released.isEmpty {
            settler.overflowed(overflowed)
            settler.release(released, owner: owner)
            dispatcherBox.withLock { $0 }?.poke()
        }
    }

    // MARK: State

    /// Metrics hook: `observer` gets the outcome of every task attempt from now on.
    package func observeOutcomes(_ observer: any TaskOutcomeObserver) { settler.observeOutcomes(observer) }

    /// Counts since start, for `/status` and the tests.
    package var statistics: FollowUpCounters { settler.statistics }

    /// One reading of the follow-up state for `/status`, `/metrics` and the health monitor. `withOutbox`: also
    /// count the outbox rows (a store read); `includingDone`: the done ones too (a walk over the table).
    package func snapshot(withOutbox: Bool, includingDone: Bool = false) -> FollowUpSnapshot {
        FollowUpSnapshot(
            executor: executor.statistics, tasks: settler.statistics, heldLeases: leases.count,
            outbox: withOutbox ? Result(catching: { () throws(StoreError) -> OutboxCounts in try outbox.counts(includingDone: includingDone) }) : nil,
            unhandledKinds: OutboxDispatcher.unhandledKinds(settler.current))
    }
}

/// The follow-up state at one moment.
package struct FollowUpSnapshot: Sendable {
    package var executor: ExecutorStatistics
    package var tasks: FollowUpCounters
    /// Leases this process holds a handle for (queued or running durable tasks).
    package var heldLeases: Int
    /// The outbox by state and kind, when it was read.
    package var outbox: Result<OutboxCounts, StoreError>?
    /// Known durable kinds no handler here runs.
    package var unhandledKinds: [TaskKind]
}

/// What the follow-up parts read from the configuration, and what each kind runs with: one lock, one copy per
/// use.
struct FollowUpSettings: Sendable {
    /// The kinds a new order gets (`OrderdConfiguration.enabledTaskKinds`).
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
