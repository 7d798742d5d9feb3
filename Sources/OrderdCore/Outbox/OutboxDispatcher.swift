/// Keeps the executor fed from the outbox, on a thread of its own (its store calls block).
///
/// It claims due tasks up to the executor's free capacity: tasks that overflowed the queue, retries whose
/// backoff passed, tasks left pending by an earlier run, and tasks whose holder's lease ran out (a process
/// that died). While a backlog remains it claims again as soon as capacity frees up; otherwise it looks
/// every `executor.poll_interval`, or at once when a request thread reports an overflow. It also renews this
/// process's leases every third of `executor.lease_timeout`.
///
/// Memory stays bounded whatever the backlog: at most the free capacity is claimed at a time; the rest waits
/// in the store.
final class OutboxDispatcher: @unchecked Sendable {
    // @unchecked Sendable: `stopping` and `poked` are only touched with `mutex` held; the rest is immutable.
    private let followUps: FollowUps
    private let mutex = PThreadMutex()
    private var stopping = false
    private var poked = false
    private var thread: StoreThread?

    init(followUps: FollowUps) {
        self.followUps = followUps
    }

    func start() throws {
        thread = try StoreThread(name: "orderd-dispatcher") { [self] in run() }
    }

    /// A durable task overflowed: look at the outbox again soon. Cheap; called from request threads.
    func poke() {
        mutex.withLock {
            poked = true
            mutex.signal()
        }
    }

    func stop() {
        mutex.withLock {
            stopping = true
            mutex.signal()
        }
        thread?.join()
        thread = nil
    }

    private var isStopping: Bool { mutex.withLock { stopping } }

    private func run() {
        var settings = followUps.executorSettings
        var nextRenew = ContinuousClock.now + settings.leaseTimeout / 3
        var nextPoll = ContinuousClock.now  // at start: pick up what an earlier run left
        var backlog = false
        var failures = 0
        while !isStopping {
            settings = followUps.executorSettings  // a reload may have changed them
            let now = ContinuousClock.now
            if now >= nextRenew {
                followUps.renewLeases()
                nextRenew = now + settings.leaseTimeout / 3
            }
            let due = mutex.withLock {
                defer { poked = false }
                return poked || backlog || now >= nextPoll
            }
            if due {
                let free = followUps.executor.freeCapacity
                if free > 0 {
                    do throws(StoreError) {
                        let claimed = try followUps.refill(limit: free)
                        backlog = claimed == free
                        failures = 0
                    } catch {
                        failures += 1
                        backlog = false
                        // Once per failure streak, then quietly retried every poll: the store logs its own trouble.
                        if failures == 1 {
                            followUps.logger.error("outbox: cannot claim tasks", metadata: ["error": "\(String(reflecting: error))"])
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
                let quarter = max(1, followUps.executor.configuration.queueCapacity / 4)
                _ = followUps.executor.waitForCapacity(atLeast: quarter, until: min(nextRenew, .now + settings.pollInterval))
            } else {
                let wakeAt = min(nextPoll, nextRenew)
                mutex.withLock {
                    if !poked && !stopping { mutex.wait(until: wakeAt) }
                }
            }
        }
    }
}
