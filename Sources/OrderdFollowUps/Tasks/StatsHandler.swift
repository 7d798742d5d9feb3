import OrderdExecutor
import OrderdOrders

/// `stats`: counts the order for `GET /stats`.
///
/// Counting is a few additions under a lock, so the request thread does it itself once the response is finished
/// (`enqueue`): handing it to an executor worker cost more (a task, a wake-up of a pool thread) than the work.
package struct StatsHandler: QueuedFollowUpHandler {
    let statistics: OrderStatistics

    package func perform(order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant) async throws {
        statistics.add(order)
    }

    package func enqueue(
        order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant,
        finished: @escaping @Sendable (ExecutorOutcome) -> Void
    ) -> Bool {
        let started = ContinuousClock.now
        statistics.add(order)
        finished(.completed(duration: ContinuousClock.now - started))
        return true
    }

    package init(statistics: OrderStatistics) {
        self.statistics = statistics
    }
}
