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
///   a continuation resumed after unlocking. A worker that finishes a task takes the next one under the same lock,
///   so a busy executor costs one lock per task on each side and no wake-ups.
/// - Wake-ups follow Go's scheduler: at most one worker is "searching" (spinning briefly for work after running out,
///   or just woken and on its way to the queue). While one is, `trySubmit` wakes nobody; a searcher that finds work
///   while more waits and workers are parked wakes the next one, so a burst still reaches every idle worker.
/// - Each worker has a slot recording what it runs and since when. A supervisor Task ticks every
///   ``Configuration/supervisorTick``: a slot past its deadline is marked cancelled and its worker Task cancelled;
///   that worker reports `.timedOut` when the task returns and exits (a Task cannot be un-cancelled), and a fresh
///   worker Task takes the slot. A slot still running `stuckGrace` after its cancellation is reported `.stuck`
///   and its worker abandoned and replaced (at most `workers` abandoned workers alive at once).
/// - Marks and ends are decided under the lock, so exactly one of the worker, the supervisor or `stop` decides
///   each task's outcome, and a cancel only ever reaches a worker that will exit without running anything else.
///
/// Call ``stop(drainDeadline:)`` before dropping the last reference: running workers keep the executor alive.
// Invariant: `state.pointee` is touched only with `lock` held (kept apart for the measured hot path's lock/unlock).
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
    private let graceNanoseconds: Int64
    private let searchNanoseconds: Int64

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
        self.configuration = configuration
        self.logger = logger
        capacity = configuration.queueCapacity
        workerCount = configuration.workers
        graceNanoseconds = Self.nanoseconds(configuration.stuckGrace)
        searchNanoseconds = Self.nanoseconds(configuration.searchBeforeParking)
        state = .allocate(capacity: 1)
        state.initialize(to: State(capacity: capacity, workers: workerCount))
    }

    deinit {
        // Reached only when no worker or supervisor Task holds `self` any more.
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

    /// O(1), never blocks on anything but a short uncontended-in-practice lock, never creates a thread or a Task.
    /// False when the queue already holds queueCapacity tasks or the executor is stopping; the task's `finished` is
    /// then NOT called.
    package func trySubmit(_ task: any ExecutorTask) -> Bool {
        // Read outside the lock: no code of the task's runs under our lock.
        let job = Job(task: task, timeout: task.timeout)
        lock.lock()
        let state = self.state
        guard state.pointee.phase.acceptsTasks, state.pointee.count < capacity else {
            state.pointee.rejected += 1
            lock.unlock()
            return false
        }
        state.pointee.submitted += 1
        state.pointee.outstanding += 1
        push(job)
        let wake = wakeIfNobodySearching()
        lock.unlock()
        wake?.resume(returning: .nudged)
        return true
    }

    /// queueCapacity - queued (never negative); for the outbox dispatcher that refills the queue.
    package var freeCapacity: Int {
        lock.withLock { capacity - state.pointee.count }
    }

    /// Blocks the calling (non-async, our own) thread until freeCapacity >= minimum, or until `deadline`; returns
    /// freeCapacity. A `minimum` above queueCapacity is treated as queueCapacity. Returns at once when the executor is
    /// stopping. Costs the hot path nothing while nobody waits.
    package func waitForCapacity(atLeast minimum: Int, until deadline: ContinuousClock.Instant) -> Int {
        let wanted = min(max(minimum, 0), capacity)
        lock.lock()
        defer { lock.unlock() }
        let state = self.state
        guard capacity - state.pointee.count < wanted, state.pointee.phase.acceptsTasks else {
            return capacity - state.pointee.count
        }
        if state.pointee.capacityWaiters == 0 || wanted < state.pointee.capacityThreshold {
            state.pointee.capacityThreshold = wanted
        }
        state.pointee.capacityWaiters += 1
        while capacity - state.pointee.count < wanted, state.pointee.phase.acceptsTasks {
            if !lock.wait(until: deadline) { break }
        }
        state.pointee.capacityWaiters -= 1
        return capacity - state.pointee.count
    }

    /// Graceful stop, blocking the calling thread: stop accepting; let queued and running tasks go on until
    /// `drainDeadline`; then cancel the running ones (they end as .cancelledAtStop if they return within stuckGrace,
    /// else .stuck) and end the never-started ones with .notStarted. Returns when every accepted task got its
    /// `finished` call (or was given up as stuck). Safe to call twice, also from two threads at once: a later call
    /// waits for the first and returns its report.
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
        // Parked workers wake and leave; workers with tasks go on while the queue lasts.
        let parked = state.pointee.parked
        state.pointee.parked.removeAll(keepingCapacity: true)
        for worker in parked { state.pointee.slots[worker.slot].worker = nil }
        lock.broadcast()  // capacity waiters return now that nothing is accepted
        lock.unlock()
        for worker in parked { worker.resume(returning: .exit) }

        lock.lock()
        // 1. Drain: queued and running tasks go on until the deadline.
        if wasStarted {
            while state.pointee.outstanding > 0, lock.wait(until: drainDeadline) {}
        }
        let drained = state.pointee.outstanding == 0
        var notStarted: [any ExecutorTask] = []
        var toCancel: [Task<Void, Never>] = []
        if !drained {
            // 2. Deadline passed: drop what never started, cancel what runs.
            state.pointee.phase = .cancelling
            notStarted.reserveCapacity(state.pointee.count)
            while let job = popJob() { notStarted.append(job.task) }
            state.pointee.notStarted += notStarted.count
            let now = Self.now()
            for index in 0..<workerCount where state.pointee.slots[index].task != nil {
                let slot = state.pointee.slots + index
                guard slot.pointee.cancel == nil else { continue }
                slot.pointee.cancel = .stop
                slot.pointee.cancelledAt = now
                if let worker = slot.pointee.worker { toCancel.append(worker) }
            }
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
            for index in 0..<workerCount where state.pointee.slots[index].task != nil {
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
            for index in 0..<workerCount where state.pointee.slots[index].task != nil { running += 1 }
            statistics.running = running
            statistics.queued = state.pointee.count
            statistics.workers = workerCount
            statistics.queueCapacity = capacity
            statistics.idleWorkers = state.pointee.parked.count
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
        while var current = await acquire(slot: index, settling: owed) {
            var next: Next
            repeat {
                var failure: (any Error)?
                do {
                    try await current.task.run()
                } catch {
                    failure = error
                }
                let end = Self.now()
                var following: Assignment?
                var wake: Parked?
                lock.lock()
                let verdict = conclude(
                    slot: index, generation: generation, sequence: current.sequence, at: end, failed: failure != nil,
                    following: &following, wake: &wake)
                lock.unlock()
                wake?.resume(returning: .nudged)
                let duration = Duration.nanoseconds(end &- current.start)
                switch verdict.ending {
                case .completed: current.task.finished(.completed(duration: duration))
                case .failed: current.task.finished(.failed(failure!, duration: duration))
                case .timedOut: current.task.finished(.timedOut(duration: duration))
                case .cancelledAtStop: current.task.finished(.cancelledAtStop(duration: duration))
                case .abandoned: break  // reported as stuck by whoever gave it up
                }
                owed = verdict.ending == .abandoned ? 0 : 1
                next = verdict.next
                if let following { current = following }
            } while next == .run
            if next == .exit {
                if owed > 0 { lock.withLock { settle(owed) } }
                return
            }
        }
    }

    /// The next task for an idle worker: from the queue, else after searching for a moment (if no other worker
    /// does), else after parking until woken. Nil when the executor stops.
    private func acquire(slot index: Int, settling owed: Int) async -> Assignment? {
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
            if let assignment = takeNext(slot: index, at: Self.now(), wake: &wake) {
                lock.unlock()
                wake?.resume(returning: .nudged)
                return assignment
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
            case .exit: return nil
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

    /// Decides how the slot's task ended and what its worker does next. Lock held.
    private func conclude(
        slot index: Int, generation: UInt64, sequence: UInt64, at end: Int64, failed: Bool,
        following: inout Assignment?, wake: inout Parked?
    ) -> Verdict {
        let state = self.state
        let slot = state.pointee.slots + index
        guard slot.pointee.generation == generation else {
            // Given up as stuck earlier: the outcome was reported then; this Task only leaves.
            state.pointee.abandonedWorkers -= 1
            refillVacantSlot()
            return Verdict(ending: .abandoned, next: .exit)
        }
        assert(slot.pointee.sequence == sequence, "a worker ended a task that is not its slot's")
        settle(slot.pointee.owed)
        slot.pointee.owed = 0
        let ending: Ending
        switch slot.pointee.cancel {
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
        let cancelled = slot.pointee.cancel != nil
        slot.pointee.task = nil
        slot.pointee.cancel = nil
        if cancelled {
            // This Task stays cancelled for good: it leaves, and a fresh Task takes the slot if there is work.
            slot.pointee.worker = needsWorkers ? spawnWorker(slot: index, generation: generation) : nil
            return Verdict(ending: ending, next: .exit)
        }
        if let assignment = takeNext(slot: index, at: end, wake: &wake) {
            // One lock per task: the `finished` call the worker makes next is settled when this next task ends.
            slot.pointee.owed = 1
            following = assignment
            return Verdict(ending: ending, next: .run)
        }
        return Verdict(ending: ending, next: .idle)
    }

    /// Takes the oldest queued task for the slot; if more wait and nobody searches, also picks a parked worker to
    /// wake (Go's hand-over of the search). Lock held; resume `wake` after unlocking.
    @inline(__always)
    private func takeNext(slot index: Int, at now: Int64, wake: inout Parked?) -> Assignment? {
        guard let job = popJob() else { return nil }
        if state.pointee.count > 0 { wake = wakeIfNobodySearching() }
        return assign(job, toSlot: index, at: now)
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

    /// After an abandoned worker left: a slot left without a worker because of the cap gets one. Lock held.
    private func refillVacantSlot() {
        // Same rule as `abandon`: a slot gets a fresh worker while at most `workers` abandoned ones are alive.
        guard needsWorkers, state.pointee.abandonedWorkers <= workerCount else { return }
        for index in 0..<workerCount {
            let slot = state.pointee.slots + index
            if slot.pointee.worker == nil, slot.pointee.task == nil {
                slot.pointee.worker = spawnWorker(slot: index, generation: slot.pointee.generation)
                return
            }
        }
    }

    // MARK: - Supervisor

    private func supervise() async {
        let tick = configuration.supervisorTick
        while true {
            do {
                try await Task.sleep(for: tick)
            } catch {
                return  // cancelled by stop
            }
            checkDeadlines(now: Self.now())
        }
    }

    private func checkDeadlines(now: Int64) {
        var toCancel: [Task<Void, Never>] = []
        var stuck: [Abandoned] = []
        lock.lock()
        for index in 0..<workerCount where state.pointee.slots[index].task != nil {
            let slot = state.pointee.slots + index
            if slot.pointee.cancel == nil {
                if slot.pointee.deadline == Slot.unknownDeadline {
                    // Worked out here, once per task, rather than on the hot path.
                    slot.pointee.deadline = Self.adding(slot.pointee.start, Self.nanoseconds(slot.pointee.timeout))
                }
                if now >= slot.pointee.deadline {
                    slot.pointee.cancel = .timeout
                    slot.pointee.cancelledAt = now
                    if let worker = slot.pointee.worker { toCancel.append(worker) }
                }
            } else if now >= Self.adding(slot.pointee.cancelledAt, graceNanoseconds) {
                stuck.append(abandon(slot: index, at: now))
            }
        }
        lock.unlock()
        // See `stop`: a late cancel only reaches a worker that exits when its task returns.
        for worker in toCancel { worker.cancel() }
        if !stuck.isEmpty {
            report(stuck)
            lock.withLock { settle(stuck.count) }
        }
    }

    /// Gives up a slot's worker: the task is counted stuck, the worker ignored from now on, and the slot gets a
    /// fresh worker unless `workers` abandoned ones are already alive. Lock held.
    private func abandon(slot index: Int, at now: Int64) -> Abandoned {
        let state = self.state
        let slot = state.pointee.slots + index
        let abandoned = Abandoned(
            task: slot.pointee.task!, duration: .nanoseconds(now &- slot.pointee.start),
            replaced: state.pointee.abandonedWorkers < workerCount)
        // The worker's previous `finished` call, unsettled until this task ended, is long done by now.
        settle(slot.pointee.owed)
        slot.pointee.owed = 0
        slot.pointee.task = nil
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
        if state.pointee.capacityWaiters > 0, capacity - state.pointee.count >= state.pointee.capacityThreshold {
            lock.broadcast()
        }
        return job
    }

    @inline(__always)
    private func assign(_ job: Job, toSlot index: Int, at now: Int64) -> Assignment {
        let state = self.state
        let sequence = state.pointee.nextSequence &+ 1
        state.pointee.nextSequence = sequence
        let slot = state.pointee.slots + index
        slot.pointee.task = job.task
        slot.pointee.sequence = sequence
        slot.pointee.start = now
        slot.pointee.timeout = job.timeout
        slot.pointee.deadline = Slot.unknownDeadline
        return Assignment(task: job.task, sequence: sequence, start: now)
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

    /// A task given to a worker.
    private struct Assignment {
        let task: any ExecutorTask
        let sequence: UInt64
        /// CLOCK_MONOTONIC nanoseconds when it was assigned.
        let start: Int64
    }

    /// What a parked worker is woken with.
    private enum Wakeup {
        /// Woken for a queued task; counted as searching until it looks.
        case nudged
        /// The queue changed between looking and parking: look again.
        case recheck
        /// The executor stops.
        case exit
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
        /// The running task; nil while the worker is idle.
        var task: (any ExecutorTask)?
        var sequence: UInt64 = 0
        var start: Int64 = 0
        var timeout: Duration = .zero
        /// `start + timeout` in nanoseconds; `unknownDeadline` until the supervisor first looks at the task.
        var deadline: Int64 = 0
        var cancel: CancelReason?
        var cancelledAt: Int64 = 0
        /// 1 while the worker's previous task's `finished` call is not yet counted in `outstanding`.
        var owed = 0

        static let unknownDeadline = Int64.min
    }

    private struct State {
        var phase: Phase = .idle
        /// Ring buffer of queued jobs: `count` initialised elements from `head`, wrapping at the capacity.
        let ring: UnsafeMutablePointer<Job>
        var head = 0
        var count = 0
        let slots: UnsafeMutablePointer<Slot>
        /// Idle workers, most recent last (it is the warmest to wake).
        var parked: [Parked] = []
        /// Workers spinning for work or woken and on their way to the queue: 0 or 1.
        var searching = 0
        /// Accepted tasks whose `finished` call has not been made and counted yet.
        var outstanding = 0
        var abandonedWorkers = 0
        var nextSequence: UInt64 = 0
        var capacityWaiters = 0
        /// Smallest `minimum` among the capacity waiters registered since there last were none.
        var capacityThreshold = 0
        var stopWaiters = 0
        var supervisor: Task<Void, Never>?
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

        init(capacity: Int, workers: Int) {
            ring = .allocate(capacity: capacity)
            slots = .allocate(capacity: workers)
            slots.initialize(repeating: Slot(), count: workers)
            parked.reserveCapacity(workers)
        }
    }
}
