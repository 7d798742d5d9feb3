import Synchronization

/// A named thread of our own for a part that works in rounds and waits between them: until a deadline, until
/// `wake()`, or until `stop()`.
///
/// An `OwnedThread`, never a thread of Swift's cooperative pool: these parts block in C (SQLite, `fdatasync`,
/// `shutdown`) or sleep on a condition between rounds, and a pool thread held like that is one fewer for every
/// async task in the process.
///
/// The body decides what a round is and keeps its own state; this type only owns the stop flag, the wake flag
/// and the join, so that shape is written once:
///
///     let thread = BackgroundThread(name: "orderd-ckpt")
///     try thread.start { context in
///         while context.wait(until: .now + interval) { checkpoint() }
///     }
///
/// A part that has nothing to do sleeps without a deadline and lets whoever brings work wake it, at the cost of one
/// relaxed load for them while it is awake (every request, every writer round):
///
///     while context.wait(until: sleeping ? nil : .now + interval) {
///         sleeping = false
///         work()
///         context.becomeIdle()  // before the last look: work brought after it calls wakeIfIdle()
///         if nothingLeft() { sleeping = true } else { context.stayAwake() }
///     }
///     // elsewhere: bring the work, then thread.wakeIfIdle()
///
/// No wake is lost as long as the last look sees all work brought before the flag went up, and whoever brings work
/// calls `wakeIfIdle()` after it is visible: either the look sees the work, or `wakeIfIdle()` sees the flag. What
/// orders the two is the caller's (a lock both take, or one inside SQLite); each caller says which.
package final class BackgroundThread: Sendable {
    /// What the body waits with.
    package struct Context: Sendable {
        fileprivate let owner: BackgroundThread

        /// Sleeps until `deadline` (nil: no deadline), a `wake()`, or `stop()`. Returns false once stop was asked,
        /// at once if it already was; true otherwise. A wake that came while no one waited is not lost: the next
        /// wait returns at once, and takes the wake.
        package func wait(until deadline: ContinuousClock.Instant? = nil) -> Bool {
            owner.wait(until: deadline)
        }

        /// Whether stop was asked, without waiting.
        package var isStopping: Bool { owner.state.withLock { $0.stopping } }

        /// Raises the idle flag: the body is about to look for work one last time and, finding none, to wait without
        /// a deadline until `wakeIfIdle()`. Call it before that look, never after.
        package func becomeIdle() { owner.idle.store(true, ordering: .relaxed) }

        /// The last look found work after all: lowers the flag again. (A `wakeIfIdle()` that came meanwhile leaves a
        /// wake behind; the next wait returns at once, which costs a round, nothing more.)
        package func stayAwake() { owner.idle.store(false, ordering: .relaxed) }
    }

    private struct State: Sendable {
        var stopping = false
        var woken = false
        var thread: OwnedThread?
    }

    package let name: String
    private let state = PThreadLocked(State())
    /// Raised by the body before its last look for work (`Context.becomeIdle`), lowered by `wakeIfIdle()`. Apart
    /// from `state` so that a caller that finds it down pays one relaxed load, not a lock.
    private let idle = Atomic(false)

    /// - Parameter name: the thread's name in errors and in `top -H` and perf, e.g. `orderd-ckpt`; at most
    ///   `OwnedThread.maxNameBytes` (15) bytes, the kernel's limit (`start` checks it).
    package init(name: String) {
        self.name = name
    }

    /// Runs `body` once on a new thread; it should return when `context.wait` returns false. Does nothing once
    /// stop was asked: a stopped part stays stopped.
    package func start(_ body: @escaping @Sendable (Context) -> Void) throws(ThreadStartError) {
        let context = Context(owner: self)
        try state.withLock { (state: inout State) throws(ThreadStartError) in
            precondition(state.thread == nil, "\(name) started twice")
            guard !state.stopping else { return }
            state.thread = try OwnedThread(name: name) { body(context) }
        }
    }

    /// Ends the current wait early, or the next one if the body is in a round. Cheap; any thread may call it.
    package func wake() {
        state.withLock { state in
            state.woken = true
            self.state.signal()
        }
    }

    /// Wakes the body if it said it sleeps until work comes (`Context.becomeIdle`), and lowers the flag so that one
    /// caller wakes it, not every one; call it once the work is visible to the body's last look. One relaxed load
    /// while the body is awake.
    package func wakeIfIdle() {
        guard idle.load(ordering: .relaxed), idle.exchange(false, ordering: .relaxed) else { return }
        wake()
    }

    /// Whether the body said it sleeps until work comes (or is about to): one relaxed load.
    package var isIdle: Bool { idle.load(ordering: .relaxed) }

    /// Asks the body to return, wakes it and waits until it has: a round in progress finishes first. Safe to
    /// call more than once, and a no-op for a thread that never started.
    package func stop() {
        let running = state.withLock { state -> OwnedThread? in
            state.stopping = true
            self.state.signal()
            defer { state.thread = nil }
            return state.thread
        }
        running?.join()
        idle.store(false, ordering: .relaxed)  // an ended body waits for nothing
    }

    private func wait(until deadline: ContinuousClock.Instant?) -> Bool {
        // Waits again after a spurious wake: that must neither cut the sleep short nor run a round early.
        state.withLock(waiting: { state, timedOut in
            guard state.stopping || state.woken || timedOut else { return .wait(until: deadline) }
            state.woken = false
            return .done(!state.stopping)
        })
    }
}
