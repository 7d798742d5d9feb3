import OrderdSupport

/// One unit of post-response work, run by a ``BoundedExecutor``.
package protocol ExecutorTask: Sendable {
    /// Longest the task may run; past it the task is cancelled (Swift task cancellation) and counted timed out.
    var timeout: Duration { get }
    /// Label for statistics/logs, e.g. "sms".
    var kind: String { get }
    func run() async throws
    /// Called exactly once per accepted task with how it ended. Must be quick and must not block for long.
    func finished(_ outcome: ExecutorOutcome)
}
