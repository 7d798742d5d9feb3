import OrderdSupport

/// What ``BoundedExecutor/stop(drainDeadline:)`` did.
package struct ExecutorStopReport: Sendable, Equatable {
    /// True when every accepted task had finished before the drain deadline.
    package var drained: Bool
    /// Tasks that were running at the drain deadline, were cancelled and returned within the stuck grace
    /// (outcome `.cancelledAtStop`).
    package var cancelled: Int
    /// Queued tasks dropped unstarted (outcome `.notStarted`).
    package var notStarted: Int
    /// Tasks given up as stuck while stopping (outcome `.stuck`), whether cancelled by their own deadline or by
    /// the stop.
    package var stuck: Int

    package init(drained: Bool, cancelled: Int, notStarted: Int, stuck: Int) {
        self.drained = drained
        self.cancelled = cancelled
        self.notStarted = notStarted
        self.stuck = stuck
    }
}
