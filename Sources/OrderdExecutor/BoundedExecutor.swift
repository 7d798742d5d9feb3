import Logging
import OrderdSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs post-response work on a fixed number of long-lived worker Tasks, from a bounded in-memory queue, with a
/// per-task deadline enforced by real Swift task cancellation.
///
/// - `trySubmit` is O(1): one short lock, a push into a preallocated ring buffer and, when a worker must be woken,
///   a continuation resumed after unlocking.
/// - Workers take tasks in batches: a worker whose latest task was short (under
///   ``Configuration/batchAfterTaskUnder``) and that finds more queued takes up to ``Configuration/batchLimit`` of
///   them (its share, leaving as much to each idle worker) under one lock into its slot's lane. It moves from one
///   task of its batch to the next without the lock, with one compare-and-swap on the lane's `word` (sequence of the
///   running task, tasks left after it, cancel bit), and settles the batch's counters under the lock when the batch
///   ends. A busy executor so costs the producer one lock per task and each worker one lock per batch. Long tasks
///   are taken one by one.
/// - Wake-ups follow Go's scheduler: at most one worker is "searching" (spinning briefly for work after running out,
///   or just woken and on its way to the queue). While one is, `trySubmit` wakes nobody; a searcher that finds work
///   while more waits and workers are parked wakes the next one, so a burst still reaches every idle worker.
///   A `.batched` submission (an order's follow-ups) wakes nobody until a batch's worth is queued; the supervisor's
///   next tick wakes a worker for fewer, so a steady trickle costs a wake-up per batch instead of one per task.
/// - Each worker has a slot recording what it runs and since when. A supervisor Task ticks every
///   ``Configuration/supervisorTick`` while any accepted task is unfinished (an idle executor wakes nobody; the next
///   `trySubmit` resumes it): a slot past its deadline is marked cancelled and its worker Task cancelled;
///   that worker reports `.timedOut` when the task returns and exits (a Task cannot be un-cancelled), and a fresh
///   worker Task takes the slot. A slot still running `stuckGrace` after its cancellation is reported `.stuck`
///   and its worker abandoned and replaced (at most `workers` abandoned workers alive at once).
/// - The tasks of a batch not started yet count as queued (`statistics.queued`, `freeCapacity`, the capacity
///   `trySubmit` enforces), and never wait behind a task that will not return soon: cancelling a task (deadline or
///   stop) and, with more than one worker, a task running a whole supervisor tick put the rest of its batch back at
///   the head of the queue, where any worker takes them (or `stop` drops them as `.notStarted`).
/// - Marks and ends are decided under the lock, and a worker's lock-free step to its next task is a
///   compare-and-swap that fails once a mark is set, so exactly one of the worker, the supervisor or `stop` decides
///   each task's outcome, and a cancel only ever reaches a worker that will exit without running anything else.
///
/// Call ``stop(drainDeadline:)`` before dropping the last reference: running workers keep the executor alive.
// Invariant: `state.pointee` is touched only with `lock` held (kept apart for the measured hot path's lock/unlock).
// A slot's `Lane` is shared with its worker as described on `Lane`.
package final class BoundedExecutor: @unchecked Sendable {

    package struct Configuration: Sendable, Equatable {
        /// Tasks running at once; 1–256.
        package var workers: Int
        /// Tasks waiting in memory; 1–1_000_000.
        package var queueCapacity: Int
        /// How long a cancelled task may take to return before its worker is given up as stuck; default 1 s.
        package var stuckGrace: Duration
        /// How often deadlines are checked, so how late a deadline may be acted on; default 20 ms, 1 ms–1 s.
        package var supervisorTick: Duration = .milliseconds(20)
        /// How long one worker that ran out of tasks keeps looking for the next before it parks, so that a steady
        /// stream of tasks costs no wake-ups; default 20 µs, 0–1 ms (0 parks at once). It spins on a pool thread: at
        /// most one worker at a time, so at most 20 µs of one core each time the queue runs dry.
        package var searchBeforeParking: Duration = .microseconds(20)
        /// Most queued tasks one worker takes at once; default 32, 1–64 (1 takes them one by one). It takes only
        /// its share, queued tasks divided among itself and the idle workers, so a batch never starves an idle one.
        /// Measured with executor-bench (5 workers, capacity 1024, 2 cores): 32 gave 6.9–7.2M no-op tasks/s
        /// against 6.5–6.6M with 16.
        package var batchLimit: Int = 32
        /// A worker takes a batch only right after a task that ran for less than this; default 50 µs, 0–1 s (0
        /// never batches). Batching pays for tasks as short as a lock hand-over; a slow task in a batch would hold
        /// the rest back until the next supervisor tick puts them back in the queue.
        package var batchAfterTaskUnder: Duration = .microseconds(50)

        package init(workers: Int, queueCapacity: Int, stuckGrace: Duration = .seconds(1)) {
            self.workers = workers
            self.queueCapacity = queueCapacity
            self.stuckGrace = stuckGrace
        }
    }

    package let configuration: Configuration
    private let logger: Logger
    private let lock = PThreadMutex(adaptive: true)
    private let state: UnsafeMutablePointer<State>
    /// `state.count`, readable without the lock: what a searching worker spins on.
    private let queuedHint = Atomic<Int>(0)
    private let capacity: Int
    private let workerCount: Int
    private let batchLimit: Int
    /// Queued tasks at which a `.batched` submission wakes a parked worker.
    private let batchedWakeAt: Int
    private let graceNanoseconds: Int64
    private let searchNanoseconds: Int64
    private let batchNanoseconds: Int64
    private let tickNanoseconds: Int64

    package init(configuration: Configuration, logger: Logger) {
        precondition(
            (1...256).contains(configuration.workers),
            "BoundedExecutor: workers is \(configuration.workers); expected 1 to 256.")
        precondition(
            (1...1_000_000).contains(configuration.queueCapacity),
            "BoundedExecutor: queueCapacity is \(configuration.queueCapacity); expected 1 to 1000000.")
        precondition(
            configuration.supervisorTick >= .milliseconds(1) && configuration.supervisorTick <= .seconds(1),
            "BoundedExecutor: supervisorTick is \(configuration.supervisorTick); expected 1 ms to 1 s.")
        precondition(
            configuration.searchBeforeParking >= .zero && configuration.searchBeforeParking <= .milliseconds(1),
            "BoundedExecutor: searchBeforeParking is \(configuration.searchBeforeParking); expected 0 to 1 ms.")
        precondition(
            (1...Lane.maximumBatch).contains(configuration.batchLimit),
            "BoundedExecutor: batchLimit is \(configuration.batchLimit); expected 1 to \(Lane.maximumBatch).")
        precondition(
            configuration.batchAfterTaskUnder >= .zero && configuration.batchAfterTaskUnder <= .seconds(1),
            "BoundedExecutor: batchAfterTaskUnder is \(configuration.batchAfterTaskUnder); expected 0 to 1 s.")
        self.configuration = configuration
        self.logger = logger
        capacity = configuration.queueCapacity
        workerCount = configuration.workers
        batchLimit = configuration.batchLimit
        batchedWakeAt = max(1, min(configuration.batchLimit, configuration.queueCapacity / 4))
        graceNanoseconds = Self.nanoseconds(configuration.stuckGrace)
        searchNanoseconds = Self.nanoseconds(configuration.searchBeforeParking)
        batchNanoseconds = Self.nanoseconds(configuration.batchAfterTaskUnder)
        tickNanoseconds = Self.nanoseconds(configuration.supervisorTick)
        state = .allocate(capacity: 1)
        state.initialize(to: State(capacity: capacity, workers: workerCount, batchLimit: batchLimit))
    }

    deinit {
        // Reached only when no worker or supervisor Task holds `self` any more: no slot runs a batch, so every
        // lane's entries were deinitialised by their workers.
        let ring = state.pointee.ring
        var index = state.pointee.head
        for _ in 0..<state.pointee.count {
            (ring + index).deinitialize(count: 1)
            index = index + 1 == capacity ? 0 : index + 1
        }
        ring.deallocate()
        state.pointee.slots.deinitialize(count: workerCount)
        state.pointee.slots.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    // MARK: - Public API

    /// Starts the workers and the deadline supervisor. Tasks submitted before `start` wait in the queue. Calling it
    /// again, or after `stop`, does nothing.
    package func start() {
        lock.lock()
        defer { lock.unlock() }
        guard state.pointee.phase == .idle else { return }
        state.pointee.phase = .running
        for index in 0..<workerCount {
            state.pointee.slots[index].worker = spawnWorker(slot: index, generation: 0)
        }
        state.pointee.supervisor = Task.detached { [self] in await supervise() }
    }

    /// How soon a submitted task should start when every worker is parked.
    package enum Start: Sendable {
        /// Wake a parked worker for it at once (unless one is searching already).
        case now
        /// Let it wait for others to keep it company: a parked worker is woken once a batch's worth is queued
        /// (``Configuration/batchLimit``, at most a quarter of the capacity), else at the next supervisor tick
        /// (``Configuration/supervisorTick``). For work nobody waits on, submitted one by one at a steady rate
        /// (an order's follow-ups): one wake-up per batch instead of one per task.
        case batched
    }

    /// O(1), never blocks on anything but a short uncontended-in-practice lock, never creates a thread or a Task.
    /// False when queueCapacity tasks are already queued (in the queue or in batches, not started) or the executor
    /// is stopping; the task's `finished` is then NOT called.
    package func trySubmit(_ task: any ExecutorTask, start: Start = .now) -> Bool {
        // Read outside the lock: no code of the task's runs under our lock.
        let job = Job(task: task, timeout: task.timeout)
        lock.lock()
        let state = self.state
        // `reserved` over-counts (it includes batch tasks that started since): only when it says full is the
        // exact figure worked out, which reads each slot.
        guard state.pointee.phase.acceptsTasks,
            state.pointee.count + state.pointee.reserved < capacity || queuedNow() < capacity
        else {
            state.pointee.rejected += 1
            lock.unlock()
            return false
        }
        state.pointee.submitted += 1
        state.pointee.outstanding += 1
        push(job)
        let wake = start == .now || state.pointee.count >= batchedWakeAt ? wakeIfNobodySearching() : nil
        let supervisor = state.pointee.idleSupervisor.take()
        lock.unlock()
        wake?.resume(returning: .nudged)
        supervisor?.resume(returning: true)
        return true
    }

    /// queueCapacity - queued (never negative); for the outbox dispatcher that refills the queue. Queued counts
    /// the tasks in workers' batches not started yet.
    package var freeCapacity: Int {
        lock.withLock { capacity - queuedNow() }
    }

    /// Blocks the calling (non-async, our own) thread until freeCapacity >= minimum, or until `deadline`; returns
    /// freeCapacity. A `minimum` above queueCapacity is treated as queueCapacity. Returns at once when the executor is
    /// stopping. Costs the hot path nothing while nobody waits (while somebody does, workers take no batches, so
    /// every task taken frees a place at once).
    package func waitForCapacity(atLeast minimum: Int, until deadline: ContinuousClock.Instant) -> Int {
        let wanted = min(max(minimum, 0), capacity)
        lock.lock()
        defer { lock.unlock() }
        let state = self.state
        guard capacity - queuedNow() < wanted, state.pointee.phase.acceptsTasks else {
            return capacity - queuedNow()
        }
        if state.pointee.capacityWaiters == 0 || wanted < state.pointee.capacityThreshold {
            state.pointee.capacityThreshold = wanted
        }
        state.pointee.capacityWaiters += 1
        while capacity - queuedNow() < wanted, state.pointee.phase.acceptsTasks {
            if !lock.wait(until: deadline) { break }
        }
        state.pointee.capacityWaiters -= 1
        return capacity - queuedNow()
    }

    /// Graceful stop, blocking the calling thread: stop accepting; let queued and running tasks go on until
    /// `drainDeadline`; then cancel the running ones (they end as .cancelledAtStop if they return within stuckGrace,
    /// else .stuck) and end the never-started ones (queued or in a batch) with .notStarted. Returns when every
    /// accepted task got its `finished` call (or was given up as stuck). Safe to call twice, also from two threads at
    /// once: a later call waits for the first and returns its report.
    package func stop(drainDeadline: ContinuousClock.Instant) -> ExecutorStopReport {
        let state = self.state
        lock.lock()
        switch state.pointee.phase {
        case .stopped:
            let report = state.pointee.stopReport!
            lock.unlock()
            return report
        case .draining, .cancelling:
            state.pointee.stopWaiters += 1
            while state.pointee.phase != .stopped { lock.wait() }
            state.pointee.stopWaiters -= 1
            let report = state.pointee.stopReport!
            lock.unlock()
            return report
        case .idle, .running:
            break
        }
        let wasStarted = state.pointee.phase == .running
        let stuckBefore = state.pointee.stuck
        let cancelledBefore = state.pointee.cancelledAtStop
        state.pointee.phase = .draining
        state.pointee.stopWaiters += 1
        // Parked workers look at the queue once more (`.batched` tasks may wait there with every worker parked) and
        // leave when it is empty, as `acquire` does for any worker once the executor stops; workers with tasks go on
        // while the queue lasts.
        let parked = state.pointee.parked
        state.pointee.parked.removeAll(keepingCapacity: true)
        // An idle supervisor ticks again while the stop drains (it never parks after this), and ends at the stop's end.
        let idleSupervisor = state.pointee.idleSupervisor.take()
        lock.broadcast()  // capacity waiters return now that nothing is accepted
        lock.unlock()
        for worker in parked { worker.resume(returning: .recheck) }
        idleSupervisor?.resume(returning: true)

        lock.lock()
        // 1. Drain: queued and running tasks go on until the deadline.
        if wasStarted {
            while state.pointee.outstanding > 0, lock.wait(until: drainDeadline) {}
        }
        let drained = state.pointee.outstanding == 0
        var notStarted: [any ExecutorTask] = []
        var toCancel: [Task<Void, Never>] = []
        if !drained {
            // 2. Deadline passed: cancel what runs (which puts the rest of its batch back in the queue), then drop
            // what never started.
            state.pointee.phase = .cancelling
            let now = Self.now()
            for index in 0..<workerCount where state.pointee.slots[index].running {
                let slot = state.pointee.slots + index
                while true {
                    let word = slot.pointee.lane.word.load(ordering: .acquiring)
                    // Already cancelled at its deadline: its batch's rest went back to the queue then.
                    if word & Lane.cancelBit != 0 { break }
                    // Fails only when the worker just moved on in its batch: try again with its new task. Its
                    // batch is finite, and at its end it waits for our lock.
                    if cancel(slot: index, word: word, reason: .stop, at: now) {
                        if let worker = slot.pointee.worker { toCancel.append(worker) }
                        break
                    }
                }
            }
            notStarted.reserveCapacity(state.pointee.count)
            while let job = popJob() { notStarted.append(job.task) }
            state.pointee.notStarted += notStarted.count
        }
        lock.unlock()
        // A cancel reaching a worker after the lock is released is harmless: that worker sees the mark when its
        // task returns and exits without running anything else.
        for worker in toCancel { worker.cancel() }
        for task in notStarted { task.finished(.notStarted) }

        lock.lock()
        settle(notStarted.count)
        if !drained {
            // 3. Running tasks get stuckGrace to return after their cancel; then they are given up.
            let graceDeadline = drainDeadline + configuration.stuckGrace
            while state.pointee.outstanding > 0, lock.wait(until: graceDeadline) {}
            var stuck: [Abandoned] = []
            let now = Self.now()
            for index in 0..<workerCount where state.pointee.slots[index].running {
                stuck.append(abandon(slot: index, at: now))
            }
            if !stuck.isEmpty {
                lock.unlock()
                report(stuck)
                lock.lock()
                settle(stuck.count)
            }
            // 4. Outcomes decided by workers or the supervisor whose `finished` call is still under way.
            while state.pointee.outstanding > 0 { lock.wait() }
        }
        let report = ExecutorStopReport(
            drained: drained,
            cancelled: state.pointee.cancelledAtStop - cancelledBefore,
            notStarted: notStarted.count,
            stuck: state.pointee.stuck - stuckBefore)
        state.pointee.phase = .stopped
        state.pointee.stopReport = report
        state.pointee.stopWaiters -= 1
        let supervisor = state.pointee.supervisor
        state.pointee.supervisor = nil
        lock.broadcast()
        lock.unlock()
        supervisor?.cancel()
        return report
    }

    package var statistics: ExecutorStatistics {
        lock.withLock {
            let state = self.state
            var statistics = ExecutorStatistics()
            statistics.submitted = state.pointee.submitted
            statistics.rejected = state.pointee.rejected
            statistics.completed = state.pointee.completed
            statistics.failed = state.pointee.failed
            statistics.timedOut = state.pointee.timedOut
            statistics.stuck = state.pointee.stuck
            statistics.cancelledAtStop = state.pointee.cancelledAtStop
            statistics.notStarted = state.pointee.notStarted
            var running = 0
            var queued = state.pointee.count
            for index in 0..<workerCount where state.pointee.slots[index].running {
                running += 1
                // Batch tasks that ended but are settled only at the batch's end count already.
                let progress = batchProgress(slot: index)
                statistics.completed += progress.ended - progress.failed
                statistics.failed += progress.failed
                queued += progress.remaining
            }
            statistics.running = running
            statistics.queued = queued
            statistics.workers = workerCount
            statistics.queueCapacity = capacity
            statistics.idleWorkers = state.pointee.parked.count
            statistics.supervisorIdle = state.pointee.idleSupervisor != nil
            statistics.wakeups = state.pointee.wakeups
            statistics.abandonedWorkers = state.pointee.abandonedWorkers
            return statistics
        }
    }

    // MARK: - Workers

    /// The body of one worker Task, bound to a slot. It exits when its task was cancelled (deadline or stop), when
    /// it was given up as stuck, or when the executor stops.
    private func work(slot index: Int, generation: UInt64) async {
        var owed = 0
        // Whether this worker's latest task was short: then it takes a batch also after running out of tasks.
        var short = false
        while var batch = await acquire(slot: index, settling: owed, batching: short) {
            var next: Next
            repeat {
                let lane = batch.lane
                // A copy of our own: the lane's entry may be released under the lock, never the task's last
                // reference (no code of the task's runs under our lock).
                var job = lane.jobs[batch.index]
                var failedMask: UInt64 = 0
                var failure: (any Error)?
                var end: Int64
                while true {
                    failure = nil
                    do {
                        try await job.task.run()
                    } catch {
                        failure = error
                    }
                    end = Self.now()
                    // The next task of the batch, without the lock. The compare-and-swap fails when a lock holder
                    // cancelled this task or took the rest of the batch back: the lock decides then.
                    guard Lane.remaining(batch.word) > 0 else { break }
                    if failure != nil {
                        // Published by the swap below; bits below the running task's index count as failed.
                        failedMask |= 1 << UInt64(batch.index)
                        lane.failed.store(failedMask, ordering: .relaxed)
                    }
                    // Before the swap: whoever reads the new sequence then reads this start or a later one, so
                    // a deadline is never worked out from an earlier task's start.
                    lane.start.store(end, ordering: .relaxed)
                    let advanced = batch.word &+ Lane.sequenceUnit &- Lane.remainingUnit
                    guard
                        lane.word.compareExchange(
                            expected: batch.word, desired: advanced, ordering: .acquiringAndReleasing
                        ).exchanged
                    else { break }
                    let ended = job
                    let duration = Duration.nanoseconds(end &- batch.start)
                    batch.word = advanced
                    batch.index += 1
                    batch.start = end
                    job = lane.jobs[batch.index]
                    // Settled in `outstanding` when the batch ends (or by `abandon`).
                    if let failure {
                        ended.task.finished(.failed(failure, duration: duration))
                    } else {
                        ended.task.finished(.completed(duration: duration))
                    }
                }
                // The entries before the running one are ours alone (lock holders read the running one and those
                // after it), so they are released here, outside the lock.
                lane.jobs.deinitialize(count: batch.index)
                var following: Batch?
                var wake: Parked?
                lock.lock()
                let verdict = conclude(
                    slot: index, generation: generation, batch: batch, at: end, failed: failure != nil,
                    following: &following, wake: &wake)
                lock.unlock()
                wake?.resume(returning: .nudged)
                short = end &- batch.start < batchNanoseconds
                let duration = Duration.nanoseconds(end &- batch.start)
                switch verdict.ending {
                case .completed: job.task.finished(.completed(duration: duration))
                case .failed: job.task.finished(.failed(failure!, duration: duration))
                case .timedOut: job.task.finished(.timedOut(duration: duration))
                case .cancelledAtStop: job.task.finished(.cancelledAtStop(duration: duration))
                case .abandoned:
                    // Reported as stuck by whoever gave it up, who left this lane (and its running entry) to us.
                    (lane.jobs + batch.index).deinitialize(count: 1)
                }
                owed = verdict.ending == .abandoned ? 0 : 1
                next = verdict.next
                if let following { batch = following }
            } while next == .run
            if next == .exit {
                if owed > 0 { lock.withLock { settle(owed) } }
                return
            }
        }
    }

    /// The next task (or batch, with `batching`) for an idle worker: from the queue, else after searching for a
    /// moment (if no other worker does), else after parking until woken. Nil when the executor stops.
    private func acquire(slot index: Int, settling owed: Int, batching: Bool) async -> Batch? {
        var owed = owed
        var searching = false
        var maySearch = searchNanoseconds > 0
        while true {
            var wake: Parked?
            lock.lock()
            settle(owed)
            owed = 0
            if searching {
                state.pointee.searching -= 1
                searching = false
            }
            if let batch = takeBatch(slot: index, at: Self.now(), batching: batching, wake: &wake) {
                lock.unlock()
                wake?.resume(returning: .nudged)
                return batch
            }
            if state.pointee.phase != .running {
                state.pointee.slots[index].worker = nil
                lock.unlock()
                return nil
            }
            if maySearch, state.pointee.searching == 0 {
                state.pointee.searching = 1
                searching = true
                maySearch = false
                lock.unlock()
                search()
                continue
            }
            lock.unlock()
            switch await park(slot: index) {
            case .nudged: searching = true  // counted as searching by whoever woke us
            case .recheck: break
            }
        }
    }

    private func park(slot index: Int) async -> Wakeup {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Wakeup, Never>) in
            lock.lock()
            // Re-checked under the lock taken here, so nothing submitted since `acquire` looked is missed.
            guard state.pointee.count == 0, state.pointee.phase == .running else {
                lock.unlock()
                continuation.resume(returning: .recheck)
                return
            }
            state.pointee.parked.append(Parked(slot: index, continuation: continuation))
            lock.unlock()
        }
    }

    /// Spins for up to `searchBeforeParking` until a task is queued; the caller then takes it or parks. Only one
    /// worker searches at a time, and while it does `trySubmit` wakes nobody: a steady stream of tasks costs no
    /// wake-ups. Blocks its thread for at most that long (20 µs by default).
    private func search() {
        let start = Self.now()
        var spins = 0
        while queuedHint.load(ordering: .relaxed) == 0 {
            spins &+= 1
            if spins & 63 == 0, Self.now() &- start >= searchNanoseconds { return }
        }
    }

    /// Ends the slot's batch: settles it, decides how its last started task ended and what its worker does next.
    /// Lock held.
    private func conclude(
        slot index: Int, generation: UInt64, batch: Batch, at end: Int64, failed: Bool,
        following: inout Batch?, wake: inout Parked?
    ) -> Verdict {
        let state = self.state
        let slot = state.pointee.slots + index
        guard slot.pointee.generation == generation else {
            // Given up as stuck earlier: the outcome was reported then; this Task only leaves.
            state.pointee.abandonedWorkers -= 1
            refillVacantSlot()
            return Verdict(ending: .abandoned, next: .exit)
        }
        // Stable here: besides its worker (us), only lock holders change it.
        let word = slot.pointee.lane.word.load(ordering: .relaxed)
        assert(
            Lane.sequence(word) == Lane.sequence(batch.word) && Lane.remaining(word) == 0,
            "a worker ended a batch that is not its slot's")
        let cancelled = word & Lane.cancelBit != 0
        retireBatch(slot: index)
        let ending: Ending
        switch cancelled ? slot.pointee.cancel : nil {
        case nil:
            if failed {
                state.pointee.failed += 1
                ending = .failed
            } else {
                state.pointee.completed += 1
                ending = .completed
            }
        case .timeout:
            state.pointee.timedOut += 1
            ending = .timedOut
        case .stop:
            state.pointee.cancelledAtStop += 1
            ending = .cancelledAtStop
        }
        slot.pointee.cancel = nil
        if cancelled {
            // This Task stays cancelled for good: it leaves, and a fresh Task takes the slot if there is work.
            slot.pointee.worker = needsWorkers ? spawnWorker(slot: index, generation: generation) : nil
            return Verdict(ending: ending, next: .exit)
        }
        let short = end &- batch.start < batchNanoseconds
        if let next = takeBatch(slot: index, at: end, batching: short, wake: &wake) {
            // One lock per batch: the `finished` call the worker makes next is settled when this next batch ends.
            slot.pointee.owed = 1
            following = next
            return Verdict(ending: ending, next: .run)
        }
        return Verdict(ending: ending, next: .idle)
    }

    /// Counts the tasks of the slot's batch that ended before its running one (their `finished` calls were made)
    /// and the worker's previous batch's last `finished` call, and releases the running task's entry (the worker
    /// holds its own copy). Lock held; the slot's batch has no tasks left to start.
    private func retireBatch(slot index: Int) {
        let state = self.state
        let slot = state.pointee.slots + index
        let progress = batchProgress(slot: index)
        assert(progress.remaining == 0, "a batch retired with tasks left in it")
        settleEnded(slot: index, progress)
        (slot.pointee.lane.jobs + progress.ended).deinitialize(count: 1)
        slot.pointee.running = false
        signalCapacity()
    }

    /// Counts the batch's tasks that ended before its running one (completed or failed, and their `finished` calls
    /// as made) with the worker's previous batch's last `finished` call, and gives back the slot's share of the
    /// capacity reservation. Lock held; the batch has no tasks left to start.
    private func settleEnded(slot index: Int, _ progress: (ended: Int, failed: Int, remaining: Int)) {
        let state = self.state
        let slot = state.pointee.slots + index
        state.pointee.completed += progress.ended - progress.failed
        state.pointee.failed += progress.failed
        settle(slot.pointee.owed + progress.ended)
        slot.pointee.owed = 0
        state.pointee.reserved -= slot.pointee.reserved
        slot.pointee.reserved = 0
    }

    /// Where the slot's running batch stands: tasks ended before the running one, how many of those failed, and
    /// tasks left after it. Lock held; the slot runs a batch.
    private func batchProgress(slot index: Int) -> (ended: Int, failed: Int, remaining: Int) {
        let slot = state.pointee.slots + index
        let lane = slot.pointee.lane
        let word = lane.word.load(ordering: .acquiring)
        let ended = Int(truncatingIfNeeded: Lane.sequence(word) &- slot.pointee.base)
        // Bits of tasks ended before the running one were stored before the swap that made it the running one.
        let below: UInt64 = ended >= 64 ? .max : (1 << UInt64(ended)) &- 1
        let failed = (lane.failed.load(ordering: .relaxed) & below).nonzeroBitCount
        return (ended, failed, Lane.remaining(word))
    }

    /// Moves the oldest queued tasks into the slot's batch and starts its first: one task, or with `batching` the
    /// slot's share of the queue up to `batchLimit`. If more wait and nobody searches, also picks a parked worker to
    /// wake (Go's hand-over of the search). Lock held; resume `wake` after unlocking.
    @inline(__always)
    private func takeBatch(slot index: Int, at now: Int64, batching: Bool, wake: inout Parked?) -> Batch? {
        let state = self.state
        let queued = state.pointee.count
        guard queued > 0 else { return nil }
        var size = 1
        // Not while somebody waits for capacity: a task in a batch frees its place without the lock, so without
        // the signal a waiter needs.
        if batching, queued > 1, state.pointee.capacityWaiters == 0 {
            // Shared with the idle workers only: a busy worker takes its own batch when it is done (measured:
            // sharing with every worker left batches of one or two and the lock contended once the queue ran low).
            let sharers = 1 + state.pointee.parked.count + state.pointee.searching
            size = min(batchLimit, (queued + sharers - 1) / sharers)
        }
        let slot = state.pointee.slots + index
        let lane = slot.pointee.lane
        for position in 0..<size {
            let job = popJob()!
            lane.timeouts[position] = job.timeout
            (lane.jobs + position).initialize(to: job)
        }
        if state.pointee.count > 0 { wake = wakeIfNobodySearching() }
        let base = slot.pointee.nextSequence
        slot.pointee.nextSequence = base &+ UInt64(size)
        slot.pointee.base = base
        slot.pointee.running = true
        slot.pointee.reserved = size - 1
        state.pointee.reserved += size - 1
        lane.failed.store(0, ordering: .relaxed)
        lane.start.store(now, ordering: .relaxed)
        let word = base << Lane.sequenceShift | UInt64(size - 1) << Lane.remainingShift
        lane.word.store(word, ordering: .releasing)
        signalCapacity()
        return Batch(lane: lane, word: word, index: 0, start: now)
    }

    /// A parked worker to wake for a newly queued task, unless a worker is already searching (it will take the task,
    /// and wake the next one if more are queued). The woken worker counts as searching. Lock held.
    @inline(__always)
    private func wakeIfNobodySearching() -> Parked? {
        guard state.pointee.searching == 0, let parked = state.pointee.parked.popLast() else { return nil }
        state.pointee.searching = 1
        state.pointee.wakeups += 1
        return parked
    }

    private func spawnWorker(slot index: Int, generation: UInt64) -> Task<Void, Never> {
        Task.detached { [self] in await work(slot: index, generation: generation) }
    }

    /// Whether a slot without a worker should get one. Lock held.
    private var needsWorkers: Bool {
        state.pointee.phase == .running || (state.pointee.phase == .draining && state.pointee.count > 0)
    }

    /// After an abandoned worker left (a slot left without a worker because of the cap), or tasks went back to the
    /// queue while draining (slots whose worker left as the queue ran dry): a vacant slot gets a worker. Lock held.
    private func refillVacantSlot() {
        // Same rule as `abandon`: a slot gets a fresh worker while at most `workers` abandoned ones are alive.
        guard needsWorkers, state.pointee.abandonedWorkers <= workerCount else { return }
        for index in 0..<workerCount {
            let slot = state.pointee.slots + index
            if slot.pointee.worker == nil, !slot.pointee.running {
                slot.pointee.worker = spawnWorker(slot: index, generation: slot.pointee.generation)
                return
            }
        }
    }

    // MARK: - Supervisor

    private func supervise() async {
        let tick = configuration.supervisorTick
        while await waitWhileIdle() {
            do {
                try await Task.sleep(for: tick)
            } catch {
                return  // cancelled by stop
            }
            checkDeadlines(now: Self.now())
        }
    }

    /// Suspends the supervisor while every accepted task is finished: no deadline to watch, no `.batched` task to
    /// start, no stuck worker to give up. Ticking anyway was most of an idle orderd's 270 context switches a second
    /// (each tick's timer, the hop to a pool thread and back to sleep). `trySubmit` and `stop` resume it. False
    /// once the executor has stopped.
    private func waitWhileIdle() async -> Bool {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Bool, Never>) in
            lock.lock()
            switch state.pointee.phase {
            case .stopped:
                lock.unlock()
                continuation.resume(returning: false)
            case .running where state.pointee.outstanding == 0:
                state.pointee.idleSupervisor = continuation
                lock.unlock()
            case .idle, .running, .draining, .cancelling:
                lock.unlock()
                continuation.resume(returning: true)
            }
        }
    }

    private func checkDeadlines(now: Int64) {
        var toCancel: [Task<Void, Never>] = []
        var stuck: [Abandoned] = []
        var wakes: [Parked] = []
        lock.lock()
        let state = self.state
        for index in 0..<workerCount where state.pointee.slots[index].running {
            let slot = state.pointee.slots + index
            let lane = slot.pointee.lane
            let word = lane.word.load(ordering: .acquiring)
            if word & Lane.cancelBit == 0 {
                let sequence = Lane.sequence(word)
                // Read after the word: this task's start or a later task's, never an earlier one.
                let start = lane.start.load(ordering: .relaxed)
                if slot.pointee.deadlineSequence != sequence {
                    // Worked out here, once per task, rather than on the hot path.
                    let timeout = lane.timeouts[Int(truncatingIfNeeded: sequence &- slot.pointee.base)]
                    slot.pointee.deadlineSequence = sequence
                    slot.pointee.deadline = Self.adding(start, Self.nanoseconds(timeout))
                }
                if now >= slot.pointee.deadline {
                    // Fails when the worker moved on meanwhile: nothing is cancelled, the next tick looks again.
                    if cancel(slot: index, word: word, reason: .timeout, at: now) {
                        if let worker = slot.pointee.worker { toCancel.append(worker) }
                        if state.pointee.count > 0 {
                            if let wake = wakeIfNobodySearching() { wakes.append(wake) }
                            // Draining, workers that found the queue empty have left: the tasks put back must
                            // not wait for this one to return.
                            if state.pointee.phase == .draining { refillVacantSlot() }
                        }
                    }
                } else if Lane.remaining(word) > 0, workerCount > 1, state.pointee.phase == .running,
                    now &- start >= tickNanoseconds
                {
                    // A task running a whole tick: the rest of its batch goes back to the queue, for whichever
                    // worker is free first (with one worker, that is this one anyway).
                    if takeBack(slot: index, word: word), let wake = wakeIfNobodySearching() { wakes.append(wake) }
                }
            } else if now >= Self.adding(slot.pointee.cancelledAt, graceNanoseconds) {
                stuck.append(abandon(slot: index, at: now))
            }
        }
        // `.batched` tasks that found every worker parked and too little company: their start is due now.
        if state.pointee.count > 0, state.pointee.phase == .running, let wake = wakeIfNobodySearching() {
            wakes.append(wake)
        }
        lock.unlock()
        for wake in wakes { wake.resume(returning: .nudged) }
        // See `stop`: a late cancel only reaches a worker that exits when its task returns.
        for worker in toCancel { worker.cancel() }
        if !stuck.isEmpty {
            report(stuck)
            lock.withLock { settle(stuck.count) }
        }
    }

    /// Marks the slot's running task cancelled if `word` is still the slot's, and puts the rest of its batch back
    /// at the head of the queue: its worker will exit when the task returns, and nothing may wait for that. False
    /// when the worker moved on (nothing changed). Lock held; the slot runs a batch.
    private func cancel(slot index: Int, word: UInt64, reason: CancelReason, at now: Int64) -> Bool {
        guard takeBack(slot: index, word: word, marking: Lane.cancelBit) else { return false }
        let slot = state.pointee.slots + index
        slot.pointee.cancel = reason
        slot.pointee.cancelledAt = now
        return true
    }

    /// Takes the rest of the slot's batch back to the head of the queue if `word` is still the slot's, setting the
    /// `marking` bits in the same swap; without a mark its running task goes on. False when the worker moved on.
    /// Lock held; the slot runs a batch.
    private func takeBack(slot index: Int, word: UInt64, marking: UInt64 = 0) -> Bool {
        let slot = state.pointee.slots + index
        let emptied = word & ~(Lane.remainingMask << Lane.remainingShift) | marking
        guard
            slot.pointee.lane.word.compareExchange(
                expected: word, desired: emptied, ordering: .acquiringAndReleasing
            ).exchanged
        else { return false }
        requeue(slot: index, after: word)
        return true
    }

    /// Moves the batch tasks after `word`'s running one back to the head of the queue, oldest first, after a swap
    /// that left the worker none to start. Lock held.
    private func requeue(slot index: Int, after word: UInt64) {
        let state = self.state
        let slot = state.pointee.slots + index
        let remaining = Lane.remaining(word)
        guard remaining > 0 else { return }
        let first = Int(truncatingIfNeeded: Lane.sequence(word) &- slot.pointee.base) + 1
        // They count against the capacity all along, so the ring has room.
        assert(state.pointee.count + remaining <= capacity)
        var position = first + remaining
        while position > first {
            position -= 1
            let head = state.pointee.head == 0 ? capacity - 1 : state.pointee.head - 1
            (state.pointee.ring + head).moveInitialize(from: slot.pointee.lane.jobs + position, count: 1)
            state.pointee.head = head
            state.pointee.count += 1
        }
        queuedHint.store(state.pointee.count, ordering: .relaxed)
        slot.pointee.reserved -= remaining
        state.pointee.reserved -= remaining
    }

    /// Gives up a slot's worker: the task is counted stuck, the worker ignored from now on, and the slot gets a
    /// fresh worker (and lane) unless `workers` abandoned ones are already alive. Lock held; the slot's task was
    /// cancelled, so the rest of its batch is back in the queue.
    private func abandon(slot index: Int, at now: Int64) -> Abandoned {
        let state = self.state
        let slot = state.pointee.slots + index
        let lane = slot.pointee.lane
        let progress = batchProgress(slot: index)
        assert(progress.remaining == 0, "a slot abandoned with batch tasks left in it")
        let abandoned = Abandoned(
            task: lane.jobs[progress.ended].task,
            duration: .nanoseconds(now &- lane.start.load(ordering: .relaxed)),
            replaced: state.pointee.abandonedWorkers < workerCount)
        // The batch's tasks before this one ended, and their `finished` calls (and the worker's previous batch's
        // last one, unsettled until this batch ended) are long done by now.
        settleEnded(slot: index, progress)
        // The lane stays with the abandoned worker, which may still read its running entry: it releases the
        // entries if it ever returns. The slot gets a fresh one.
        slot.pointee.lane = Lane(capacity: batchLimit)
        slot.pointee.running = false
        slot.pointee.cancel = nil
        slot.pointee.generation &+= 1
        slot.pointee.worker = nil
        state.pointee.stuck += 1
        state.pointee.abandonedWorkers += 1
        if abandoned.replaced, needsWorkers {
            slot.pointee.worker = spawnWorker(slot: index, generation: slot.pointee.generation)
        }
        return abandoned
    }

    /// Reports abandoned tasks; lock NOT held.
    private func report(_ stuck: [Abandoned]) {
        for abandoned in stuck {
            logger.warning(
                "Executor task did not return after being cancelled; its worker was given up.",
                metadata: [
                    "kind": "\(abandoned.task.kind)",
                    "duration": "\(abandoned.duration)",
                    "stuck_grace": "\(configuration.stuckGrace)",
                ])
            if !abandoned.replaced {
                logger.error(
                    """
                    Executor not replacing a stuck worker: \(workerCount) given-up workers are still running; the \
                    executor runs with fewer workers until they return.
                    """,
                    metadata: ["kind": "\(abandoned.task.kind)"])
            }
            abandoned.task.finished(.stuck(duration: abandoned.duration))
        }
    }

    // MARK: - Queue and slots (lock held)

    @inline(__always)
    private func push(_ job: Job) {
        let state = self.state
        var tail = state.pointee.head + state.pointee.count
        if tail >= capacity { tail -= capacity }
        (state.pointee.ring + tail).initialize(to: job)
        state.pointee.count += 1
        queuedHint.store(state.pointee.count, ordering: .relaxed)
    }

    @inline(__always)
    private func popJob() -> Job? {
        let state = self.state
        guard state.pointee.count > 0 else { return nil }
        let head = state.pointee.head
        let job = (state.pointee.ring + head).move()
        state.pointee.head = head + 1 == capacity ? 0 : head + 1
        state.pointee.count -= 1
        queuedHint.store(state.pointee.count, ordering: .relaxed)
        return job
    }

    /// Tasks accepted and not started: in the queue and in the slots' batches. Lock held.
    private func queuedNow() -> Int {
        var queued = state.pointee.count
        guard state.pointee.reserved > 0 else { return queued }
        for index in 0..<workerCount where state.pointee.slots[index].running {
            queued += Lane.remaining(state.pointee.slots[index].lane.word.load(ordering: .relaxed))
        }
        return queued
    }

    /// Wakes the capacity waiters once enough is free. Lock held.
    @inline(__always)
    private func signalCapacity() {
        guard state.pointee.capacityWaiters > 0 else { return }
        if capacity - queuedNow() >= state.pointee.capacityThreshold { lock.broadcast() }
    }

    /// Counts `count` finished calls as done. Lock held.
    @inline(__always)
    private func settle(_ count: Int) {
        guard count > 0 else { return }
        state.pointee.outstanding -= count
        if state.pointee.stopWaiters > 0 { lock.broadcast() }
    }

    // MARK: - Time

    /// CLOCK_MONOTONIC in nanoseconds: cheaper to read and compare than `ContinuousClock.Instant`.
    @inline(__always)
    private static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
    }

    /// A duration in nanoseconds, clamped to 0...Int64.max.
    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return adding(whole, attoseconds / 1_000_000_000)
    }

    @inline(__always)
    private static func adding(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }
}

// MARK: - State

extension BoundedExecutor {
    private enum Phase {
        /// Accepting; workers not started yet.
        case idle
        case running
        /// `stop` called: nothing accepted; queued and running tasks go on until the drain deadline.
        case draining
        /// Drain deadline passed: running tasks cancelled, queued ones dropped.
        case cancelling
        case stopped

        var acceptsTasks: Bool { self == .idle || self == .running }
    }

    private enum CancelReason {
        case timeout
        case stop
    }

    private struct Job {
        let task: any ExecutorTask
        /// `task.timeout`, read once at submission.
        let timeout: Duration
    }

    /// A slot's batch as its worker sees it.
    private struct Batch {
        let lane: Lane
        /// The lane's word as the worker last set it: what its next compare-and-swap expects.
        var word: UInt64
        /// The running task's entry in `lane.jobs`.
        var index: Int
        /// CLOCK_MONOTONIC nanoseconds when the running task started.
        var start: Int64
    }

    /// A slot's batch, shared between the slot's worker and lock holders. One per slot and worker generation: an
    /// abandoned worker keeps its lane, so nothing it does later touches the slot's new worker.
    ///
    /// `word` is (sequence of the running task << 8 | tasks left to start after it << 1 | cancel bit). The worker
    /// steps to its next task with a compare-and-swap that decrements the tasks left; lock holders cancel the
    /// running task, or take the tasks left back, with a compare-and-swap that zeroes them. So each task after the
    /// running one is started by the worker or taken back by a lock holder, never both.
    // Invariant (why @unchecked): `jobs` and `timeouts` entries are written under the lock by the worker taking a
    // batch. Lock-free, the worker reads the entry of the task it just swapped to and releases, once its batch
    // ended, the entries before its running one; lock holders read `timeouts`, read the running entry only once
    // it is cancelled (the worker stays on it) and move out the entries after it only after a swap that leaves the
    // worker none of them. Atomics are safe to share.
    private final class Lane: @unchecked Sendable {
        static let maximumBatch = 64
        static let cancelBit: UInt64 = 1
        static let remainingShift: UInt64 = 1
        static let remainingMask: UInt64 = 0x7F
        static let remainingUnit: UInt64 = 1 << remainingShift
        static let sequenceShift: UInt64 = 8
        static let sequenceUnit: UInt64 = 1 << sequenceShift

        let word = Atomic<UInt64>(0)
        /// CLOCK_MONOTONIC nanoseconds when the running task started; stored before the swap that starts it.
        let start = Atomic<Int64>(0)
        /// Bit i set: the batch's task i failed (meaningful below the running task's index).
        let failed = Atomic<UInt64>(0)
        let jobs: UnsafeMutablePointer<Job>
        /// `jobs[i].timeout`, apart so that the supervisor reads plain values written under the lock, never an entry
        /// its worker may be releasing.
        let timeouts: UnsafeMutablePointer<Duration>
        /// Keeps two lanes' hot words (allocated one after the other) off each other's cache line.
        private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

        init(capacity: Int) {
            jobs = .allocate(capacity: capacity)
            timeouts = .allocate(capacity: capacity)
            timeouts.initialize(repeating: .zero, count: capacity)
        }

        deinit {
            // Its entries were released by its worker, or by the abandoned worker that kept it.
            jobs.deallocate()
            timeouts.deallocate()
        }

        @inline(__always)
        static func sequence(_ word: UInt64) -> UInt64 { word >> sequenceShift }

        @inline(__always)
        static func remaining(_ word: UInt64) -> Int {
            Int(truncatingIfNeeded: (word >> remainingShift) & remainingMask)
        }
    }

    /// What a parked worker is woken with.
    private enum Wakeup {
        /// Woken for a queued task; counted as searching until it looks.
        case nudged
        /// The queue changed between looking and parking, or the executor stops: look again.
        case recheck
    }

    /// A parked worker's continuation.
    ///
    /// Unsafe rather than checked: `CheckedContinuation` is a resilient type, so every copy of this record, and
    /// every `Optional` of it on `trySubmit`'s path, went through runtime value witnesses (measured with callgrind).
    /// Each continuation is resumed exactly once: by whoever removes its record from `parked` under the lock.
    private struct Parked {
        let slot: Int
        let continuation: UnsafeContinuation<Wakeup, Never>

        func resume(returning wakeup: Wakeup) { continuation.resume(returning: wakeup) }
    }

    /// How a task ended, decided under the lock; the outcome itself is built after unlocking.
    private enum Ending {
        case completed
        case failed
        case timedOut
        case cancelledAtStop
        /// Its worker was given up as stuck: the outcome was reported already.
        case abandoned
    }

    private enum Next {
        case run
        /// The queue is empty: search, then park.
        case idle
        case exit
    }

    private struct Verdict {
        let ending: Ending
        let next: Next
    }

    private struct Abandoned {
        let task: any ExecutorTask
        let duration: Duration
        let replaced: Bool
    }

    /// What one worker runs. A slot outlives its worker Tasks: a replacement takes the same slot.
    private struct Slot {
        /// Bumped when the slot's worker is given up, so that worker's later return is recognised and ignored.
        var generation: UInt64 = 0
        /// The Task serving this slot; nil while vacant.
        var worker: Task<Void, Never>?
        var lane: Lane
        /// True while the worker runs a batch (one of its tasks runs, or just ended).
        var running = false
        /// Sequence of the batch's first task (`lane.jobs[0]`).
        var base: UInt64 = 0
        /// Sequence of the next batch's first task: sequences only grow, so a stale swap never matches.
        var nextSequence: UInt64 = 1
        /// This batch's share of `State.reserved`.
        var reserved = 0
        /// The task `deadline` was worked out for; 0: none yet.
        var deadlineSequence: UInt64 = 0
        /// Its start + timeout in nanoseconds.
        var deadline: Int64 = 0
        /// Why the running task was cancelled; set with the word's cancel bit.
        var cancel: CancelReason?
        var cancelledAt: Int64 = 0
        /// 1 while the worker's previous batch's last `finished` call is not yet counted in `outstanding`.
        var owed = 0

        init(batchLimit: Int) {
            lane = Lane(capacity: batchLimit)
        }
    }

    private struct State {
        var phase: Phase = .idle
        /// Ring buffer of queued jobs: `count` initialised elements from `head`, wrapping at the capacity.
        let ring: UnsafeMutablePointer<Job>
        var head = 0
        var count = 0
        /// Tasks in batches after the one running when the batch was taken, until the batch ends or they go back
        /// to the queue: at least the batch tasks not started, so `count + reserved` never under-counts the queue.
        var reserved = 0
        let slots: UnsafeMutablePointer<Slot>
        /// Idle workers, most recent last (it is the warmest to wake).
        var parked: [Parked] = []
        /// Workers spinning for work or woken and on their way to the queue: 0 or 1.
        var searching = 0
        /// Accepted tasks whose `finished` call has not been made and counted yet.
        var outstanding = 0
        var abandonedWorkers = 0
        var capacityWaiters = 0
        /// Smallest `minimum` among the capacity waiters registered since there last were none.
        var capacityThreshold = 0
        var stopWaiters = 0
        var supervisor: Task<Void, Never>?
        /// The supervisor, suspended while nothing accepted is unfinished (`waitWhileIdle`); resumed by whoever
        /// takes it out of here under the lock.
        var idleSupervisor: UnsafeContinuation<Bool, Never>?
        var stopReport: ExecutorStopReport?

        var submitted = 0
        var rejected = 0
        var completed = 0
        var failed = 0
        var timedOut = 0
        var stuck = 0
        var cancelledAtStop = 0
        var notStarted = 0
        var wakeups = 0

        init(capacity: Int, workers: Int, batchLimit: Int) {
            ring = .allocate(capacity: capacity)
            slots = .allocate(capacity: workers)
            for index in 0..<workers {
                (slots + index).initialize(to: Slot(batchLimit: batchLimit))
            }
            parked.reserveCapacity(workers)
        }
    }
}
