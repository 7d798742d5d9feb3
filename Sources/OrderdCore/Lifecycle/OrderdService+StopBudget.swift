extension OrderdService {
    /// Beyond `server.request_timeout` at a stop: a request that ran to its timeout still writes its answer.
    static let requestGrace: Duration = .milliseconds(500)
    /// The PostgreSQL store's close: its outbox writer gets up to 10 s for the last task outcomes, the pool up
    /// to 10 s more (`PostgresOrderStore.close`).
    static let postgresClose: Duration = .seconds(20)
    /// HTTP clients shut down, the audit file closed, the process exits.
    static let exitMargin: Duration = .seconds(5)

    /// The longest a graceful stop (SIGTERM) may take under `configuration`, each phase at its bound:
    /// `request_timeout` + 0.5 s for the requests in flight, `drain_timeout` for the follow-up tasks, then the
    /// store's close (SQLite's writer commits what is queued, whose `BEGIN IMMEDIATE` may wait
    /// `store.busy_timeout`; PostgreSQL's close takes up to 20 s: the larger of the two), then 5 s to exit.
    /// systemd must not SIGKILL before: `TimeoutStopSec=` covers `worstCaseStopBudget`.
    public static func stopBudget(_ configuration: OrderdConfiguration) -> Duration {
        configuration.server.requestTimeout + requestGrace + configuration.executor.drainTimeout
            + max(configuration.store.busyTimeout, postgresClose) + exitMargin
    }

    /// `stopBudget` with every key it reads at the largest value the schema allows (both timeouts are live, so
    /// a reload may raise them without a restart): 600 s + 0.5 s + 600 s + max(60 s, 20 s) + 5 s = 1265.5 s.
    public static var worstCaseStopBudget: Duration {
        var worst = OrderdConfiguration()
        if let longest = ConfigSchema.maximumDuration(of: "server.request_timeout") { worst.server.requestTimeout = longest }
        if let longest = ConfigSchema.maximumDuration(of: "executor.drain_timeout") { worst.executor.drainTimeout = longest }
        if let longest = ConfigSchema.maximumDuration(of: "store.busy_timeout") { worst.store.busyTimeout = longest }
        return stopBudget(worst)
    }
}
