import OrderdConfig
import OrderdFastCGI
import OrderdSupport

extension OrderdService {
    /// Beyond `server.request_timeout` at a stop: a request that ran to its timeout still writes its answer.
    static let requestGrace: Duration = .milliseconds(500)
    /// The PostgreSQL store's close: its outbox writer gets up to 10 s for the last task outcomes, the pool up
    /// to 10 s more (`PostgresOrderStore.close`).
    static let postgresClose: Duration = .seconds(20)
    /// HTTP clients shut down, the audit file closed, the process exits. Also the budget each of those quick
    /// stops (and the health monitor's, the sampler's) is reported against.
    static let exitMargin: Duration = .seconds(5)
    /// At a stop, the requests in flight and then the follow-up tasks each get their live timeout, at most this
    /// long: so the whole stop fits a fixed `TimeoutStopSec=` (130 s) whatever a reload set the timeouts to (up
    /// to 10 minutes each). A request cut here is answered by nginx (502/504) and nothing it did is lost: an order
    /// is only acknowledged once committed; a task cut here runs again at the next start.
    static let stopPhaseCap: Duration = .seconds(30)

    /// How long a stop waits for the request threads: the kept connections' drain (3 s, while nginx still
    /// sends on them), then `request_timeout` (at most 30 s) + 0.5 s for the last request served.
    static func stopRequestWait(_ configuration: OrderdConfiguration) -> Duration {
        FastCGIServer.keptConnectionDrain + min(configuration.server.requestTimeout, stopPhaseCap) + requestGrace
    }

    /// How long a stop lets follow-up tasks drain: `drain_timeout`, at most 30 s.
    static func stopDrain(_ configuration: OrderdConfiguration) -> Duration {
        min(configuration.executor.drainTimeout, stopPhaseCap)
    }

    /// The longest a graceful stop (SIGTERM) may take under `configuration`, each phase at its bound:
    /// `stopRequestWait` for the requests in flight, `stopDrain` for the follow-up tasks, then the
    /// store's close (SQLite's writer commits what is queued, whose `BEGIN IMMEDIATE` may wait
    /// `store.busy_timeout`; PostgreSQL's close takes up to 20 s: the larger of the two), then 5 s to exit.
    /// systemd must not SIGKILL before: `TimeoutStopSec=` covers `worstCaseStopBudget`.
    package static func stopBudget(_ configuration: OrderdConfiguration) -> Duration {
        stopRequestWait(configuration) + stopDrain(configuration)
            + max(configuration.store.busyTimeout, postgresClose) + exitMargin
    }

    /// `stopBudget` with every key it reads at the largest value the schema allows (both timeouts are live, so
    /// a reload may raise them without a restart): 3 s + 30 s + 0.5 s + 30 s + max(60 s, 20 s) + 5 s = 128.5 s.
    package static var worstCaseStopBudget: Duration {
        var worst = OrderdConfiguration()
        if let longest = ConfigSchema.maximumDuration(of: "server.request_timeout") { worst.server.requestTimeout = longest }
        if let longest = ConfigSchema.maximumDuration(of: "executor.drain_timeout") { worst.executor.drainTimeout = longest }
        if let longest = ConfigSchema.maximumDuration(of: "store.busy_timeout") { worst.store.busyTimeout = longest }
        return stopBudget(worst)
    }
}
