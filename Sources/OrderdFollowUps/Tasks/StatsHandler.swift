import OrderdOrders

/// `stats`: counts the order for `GET /stats`.
package struct StatsHandler: FollowUpHandler {
    let statistics: OrderStatistics

    package func perform(order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant) async throws {
        statistics.add(order)
    }

    package init(statistics: OrderStatistics) {
        self.statistics = statistics
    }
}
