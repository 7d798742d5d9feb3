/// Does one kind of follow-up work for an order: one attempt per call.
///
/// Runs on an executor worker (Swift's cooperative pool): it must not block a thread for long. Honour
/// cancellation, which is how the executor enforces `deadline`; a handler that ignores it is counted stuck.
public protocol FollowUpHandler: Sendable {
    /// - Parameters:
    ///   - taskID: the durable task's id, sent as `Idempotency-Key` so the receiver can drop repeats.
    ///   - attempt: 1 for the first attempt.
    ///   - deadline: the attempt is cancelled at this instant; outgoing calls should carry it.
    func perform(order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant) async throws
}

/// Why an attempt failed, in words for `orderd tasks list` and the log (never personal data).
public struct FollowUpError: Error, Sendable, CustomStringConvertible {
    /// A permanent failure (the receiver rejected the request itself, e.g. HTTP 400): retrying cannot help,
    /// so the task is dead at once.
    public var isPermanent: Bool
    public var description: String

    public static func transient(_ description: String) -> FollowUpError {
        FollowUpError(isPermanent: false, description: description)
    }

    public static func permanent(_ description: String) -> FollowUpError {
        FollowUpError(isPermanent: true, description: description)
    }
}
