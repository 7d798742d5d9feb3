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
