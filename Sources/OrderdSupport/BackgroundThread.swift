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
    }

    private struct State: Sendable {
        var stopping = false
        var woken = false
        var thread: OwnedThread?
    }

    package let name: String
    private let state = PThreadLocked(State())

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
