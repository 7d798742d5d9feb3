import OrderdSupport

/// How an accepted ``ExecutorTask`` ended; handed to its `finished(_:)` exactly once.
///
/// Durations are measured from the moment the executor assigned the task to a worker.
package enum ExecutorOutcome: Sendable {
    case completed(duration: Duration)
    case failed(any Error, duration: Duration)
    /// Past its timeout: cancelled, and it returned (or threw) after cancellation.
    case timedOut(duration: Duration)
    /// Past timeout + stuckGrace without returning even though it was cancelled: the worker was given up and
    /// replaced; whatever the task does later is ignored.
    case stuck(duration: Duration)
    /// Was running when stop's drain deadline passed: cancelled.
    case cancelledAtStop(duration: Duration)
    /// Accepted but never started because the executor stopped.
    case notStarted
}
