import OrderdExecutor
import OrderdStore
import OrderdSupport
import Synchronization

/// Keeps the executor fed from the outbox, on a thread of its own (its store calls block).
///
/// It claims due tasks up to the executor's free capacity: tasks that overflowed the queue, retries whose
/// backoff passed, tasks left pending by an earlier run, and tasks whose lease ran out (a process that died, or
/// a handle this process lost). Kinds without a handler here are left alone in SQL, so they cost nothing and
/// another instance that has the handler gets them. While a backlog remains it claims again as soon as capacity
/// frees up; otherwise it looks every `executor.poll_interval`, or at once when a request thread reports an
/// overflow. Every third of `executor.lease_timeout` it renews the leases in the `LeaseBook`, and only those.
///
/// Memory stays bounded whatever the backlog: at most the free capacity is claimed at a time; the rest waits
/// in the store.
///
/// A blocking thread of our own rather than a Task: the SQLite store's claim blocks on the writer thread.
final class OutboxDispatcher: Sendable {
    private let outbox: any OutboxStore
    private let leases: LeaseBook
    private let settler: TaskSettler
    private let executor: @Sendable () -> BoundedExecutor
    /// A request thread reported an overflow since the last round looked; the wake alone could be taken by
    /// a wait that ended for the poll anyway.
    private let poked = Atomic(false)
    private let thread = BackgroundThread(name: "orderd-dispatch")

    /// - Parameter executor: the executor in force (a reload may replace it).
    init(outbox: any OutboxStore, leases: LeaseBook, settler: TaskSettler, executor: @escaping @Sendable () -> BoundedExecutor) {
        self.outbox = outbox
        self.leases = leases
        self.settler = settler
        self.executor = executor
    }

    func start() throws(ThreadStartError) {
        try thread.start { [self] context in run(context) }
    }

    /// A durable task overflowed: look at the outbox again soon. Cheap; called from request threads.
    func poke() {
        poked.store(true, ordering: .releasing)
        thread.wake()
    }

    func stop() {
        thread.stop()
    }

    /// Known durable kinds no handler here runs: claims leave them alone.
    static func unhandledKinds(_ settings: FollowUpSettings) -> [TaskKind] {
        TaskKind.allCases.filter { $0.isDurable && settings.handlers[$0] == nil }
    }

    /// Claims due tasks (up to `limit`) and submits them. Returns how many rows the claim took (unreadable ones
    /// included, so a backlog of them is worked through at full speed too).
    func refill(limit: Int) throws(StoreError) -> Int {
        let current = settler.current
        let executor = self.executor()
        let now = settler.now()
        let token = leases.newClaimToken()
        let claim = try outbox.claimDue(
            owner: token, skipping: Self.unhandledKinds(current), limit: limit, nowMillis: now,
            leaseUntilMillis: now + current.executor.leaseTimeout.millis)
        settler.unreadable(claim.unreadable)
        var released: [TaskKey] = []
        for task in claim.tasks {
            let lease = TaskLease(key: task.key, owner: token)
            guard let policy = current.policies[task.key.kind] else {
                released.append(task.key)
                continue
            }
            // Before the handler check: a task past max_age is dead, whatever runs it.
            if let expired = RetryPolicy.beforeAttempt(policy: policy, ageFromMillis: task.ageFromMillis, nowMillis: now) {
                settler.record(expired, for: lease, attempt: task.attempts, duration: .zero, nowMillis: now)
                continue
            }
            // A reload between the claim and here took the handler away: give the task back untouched.
            guard let handler = current.handlers[task.key.kind] else {
                released.append(task.key)
                continue
            }
            leases.hold(task.key, owner: token)  // before the submit: the task may finish before it returns
            let executorTask = OutboxTask(
                lease: lease, order: task.order, previousAttempts: task.attempts, ageFromMillis: task.ageFromMillis,
                timeout: policy.timeout, handler: handler, settler: settler)
            if !executorTask.start(on: executor) { released.append(task.key) }
        }
        settler.release(released, owner: token)
        return claim.tasks.count + claim.unreadable.count
    }

    /// Extends the leases of the tasks this process holds a handle for.
    func renewLeases() {
        let held = leases.held
        guard !held.isEmpty else { return }
        let lease = settler.current.executor.leaseTimeout
        outbox.record(.renew(held, untilMillis: settler.now() + lease.millis))
    }

    private func run(_ context: BackgroundThread.Context) {
        var settings = settler.current.executor
        var nextRenew = ContinuousClock.now + settings.leaseTimeout / 3
        var nextPoll = ContinuousClock.now  // at start: pick up what an earlier run left
        var backlog = false
        var failures = 0
        while !context.isStopping {
            settings = settler.current.executor  // a reload may have changed them
            let now = ContinuousClock.now
            if now >= nextRenew {
                renewLeases()
                nextRenew = now + settings.leaseTimeout / 3
            }
            let due = poked.exchange(false, ordering: .acquiring) || backlog || now >= nextPoll
            let executor = self.executor()
            if due {
                let free = executor.freeCapacity
                if free > 0 {
                    do throws(StoreError) {
                        let claimed = try refill(limit: free)
                        backlog = claimed == free
                        failures = 0
                    } catch {
                        failures += 1
                        backlog = false
                        // Once per failure streak, then quietly retried every poll: the store logs its own trouble.
                        if failures == 1 {
                            settler.logger.error("outbox: cannot claim tasks", metadata: ["error": "\(String(reflecting: error))"])
                        }
                    }
                } else {
                    // The queue is full: whatever is due waits until it has room.
                    backlog = true
                }
                if !backlog { nextPoll = now + settings.pollInterval }
            }
            if backlog {
                // Claim again once a quarter of the queue is free (not task by task), or after a poll interval.
                let quarter = max(1, executor.configuration.queueCapacity / 4)
                _ = executor.waitForCapacity(atLeast: quarter, until: min(nextRenew, .now + settings.pollInterval))
            } else {
                _ = context.wait(until: min(nextPoll, nextRenew))
            }
        }
    }
}
