import OrderdExecutor
import OrderdOrders
import OrderdSupport

/// Does one kind of follow-up work for an order: one attempt per call.
///
/// Runs on an executor worker (Swift's cooperative pool): it must not block a thread for long. Honour
/// cancellation, which is how the executor enforces `deadline`; a handler that ignores it is counted stuck.
package protocol FollowUpHandler: Sendable {
    /// - Parameters:
    ///   - taskID: the durable task's id, sent as `Idempotency-Key` so the receiver can drop repeats.
    ///   - attempt: 1 for the first attempt.
    ///   - deadline: the attempt is cancelled at this instant; outgoing calls should carry it.
    func perform(order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant) async throws

    /// This handler as a ``QueuedFollowUpHandler``, nil for one that runs on the executor. A requirement rather
    /// than an `as?` cast at each task's start: a cast to a protocol looks the conformance up at run time
    /// (`swift_dynamicCast`, about half a percent of orderd's CPU per order in perf). The defaults below answer for
    /// every handler.
    var queued: (any QueuedFollowUpHandler)? { get }
}

extension FollowUpHandler {
    package var queued: (any QueuedFollowUpHandler)? { nil }
}

/// A handler whose attempts wait in a queue of its own, worked off by a thread of its own (the audit file's group
/// commit), instead of holding an executor worker while they wait: durable tasks of its kind skip the executor.
package protocol QueuedFollowUpHandler: FollowUpHandler {
    /// Queues one attempt without waiting. `finished` gets its outcome exactly once, later, on the handler's
    /// thread (it must be quick). False when refused (the queue is full or closed): `finished` is never called.
    func enqueue(
        order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant,
        finished: @escaping @Sendable (ExecutorOutcome) -> Void
    ) -> Bool
}

extension QueuedFollowUpHandler {
    package var queued: (any QueuedFollowUpHandler)? { self }
}

/// Why an attempt failed, in words for `orderd tasks list` and the log (never personal data).
package struct FollowUpError: Error, Sendable, CustomStringConvertible {
    /// A permanent failure (the receiver rejected the request itself, e.g. HTTP 400): retrying cannot help,
    /// so the task is dead at once.
    package var isPermanent: Bool
    package var description: String

    package static func transient(_ description: String) -> FollowUpError {
        FollowUpError(isPermanent: false, description: description)
    }

    package static func permanent(_ description: String) -> FollowUpError {
        FollowUpError(isPermanent: true, description: description)
    }
}
