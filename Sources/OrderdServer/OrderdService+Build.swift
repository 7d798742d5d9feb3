import Logging
import OrderdConfig
import OrderdFollowUps
import OrderdHTTP
import OrderdOperations
import OrderdStore
import OrderdSupport

extension OrderdService {
    /// Everything a running orderd is made of, opened in dependency order.
    struct Parts {
        var store: any OrderStore
        var followUps: FollowUps
        var statistics: OrderStatistics
        var auditLog: AuditLog
        var posters: [HTTPPoster]
        /// `store.busy_timeout`, changed by a reload.
        var busyTimeout: DurationSetting
        /// What `/status` shows of the configuration; a reload replaces it.
        var running: RunningConfiguration
        /// `log.slow_request`, changed by a reload.
        var slowRequest: DurationSetting
        /// Requests finished, by outcome: `/status` and the systemd status line read it.
        var requests = RequestCounter()
        /// `GET /readyz`; the stop marks it draining first.
        var readiness: Readiness
        /// Samples for `/status`'s history and charts, every 5 s on its own thread; `run()` starts and stops it.
        var statusSampler: StatusSampler
    }

    static func openParts(
        _ configuration: OrderdConfiguration, credentials: OutgoingCredentials, path: String, logger: Logger
    ) throws -> Parts {
        let owner = OutboxInsertion.makeOwner()
        let insertion = FollowUps.insertion(for: configuration, owner: owner)
        let store = try OrderStores.open(StoreSettings(configuration), outbox: insertion, logger: logger)
        let auditLog: AuditLog
        do {
            auditLog = try AuditLog(path: configuration.audit.path)
        } catch {
            store.close()
            throw error
        }
        let statistics = OrderStatistics()
        let (handlers, posters) = makeHandlers(
            configuration, credentials: credentials, auditLog: auditLog, statistics: statistics, logger: logger)
        let followUps = FollowUps(
            configuration: configuration, outbox: store, insertion: insertion, handlers: handlers, logger: logger)
        let requests = RequestCounter()
        return Parts(
            store: store, followUps: followUps, statistics: statistics, auditLog: auditLog, posters: posters,
            busyTimeout: DurationSetting(configuration.store.busyTimeout),
            running: RunningConfiguration(configuration, path: path, loadedAtMillis: WallClock.unixMillis()),
            slowRequest: DurationSetting(configuration.log.slowRequest), requests: requests,
            readiness: Readiness(store: store),
            statusSampler: StatusSampler(followUps: followUps, requests: requests, wallClock: WallClock.unixMillis))
    }

    /// What each kind runs with under `configuration`, and the HTTP clients made for it (shut them down at the
    /// stop). A client in `existing` with the same URL, connect timeout and connection limit is used again
    /// instead of a new one: a reload that changes other keys (a log level, a backoff) makes no new client, so
    /// clients and their pooled connections do not pile up with every SIGHUP. Only new clients are returned.
    static func makeHandlers(
        _ configuration: OrderdConfiguration, credentials: OutgoingCredentials = OutgoingCredentials(), auditLog: AuditLog,
        statistics: OrderStatistics, logger: Logger, reusing existing: [HTTPPoster] = []
    ) -> ([TaskKind: any FollowUpHandler], [HTTPPoster]) {
        var posters: [HTTPPoster] = []
        func poster(_ url: String, timeout: Duration?) -> HTTPPoster {
            let connectTimeout = timeout ?? configuration.executor.taskTimeout
            let connections = configuration.executor.workers
            if let same = (existing + posters).first(where: {
                $0.url == url && $0.connectTimeout == connectTimeout && $0.connections == connections
            }) {
                return same
            }
            let made = HTTPPoster(url: url, connectTimeout: connectTimeout, connections: connections)
            posters.append(made)
            return made
        }
        var handlers: [TaskKind: any FollowUpHandler] = [
            .audit: AuditHandler(log: auditLog, wallClock: WallClock.unixMillis),
            .stats: StatsHandler(statistics: statistics),
        ]
        switch configuration.sms.driver {
        case .http:
            handlers[.sms] = SMSHandler(transport: .http(
                poster(configuration.sms.gatewayURL, timeout: configuration.sms.timeout), header: credentials.smsHeader))
        case .log: handlers[.sms] = SMSHandler(transport: .log(logger))
        }
        if !configuration.webhook.url.isEmpty {
            handlers[.webhook] = WebhookHandler(
                poster: poster(configuration.webhook.url, timeout: configuration.webhook.timeout),
                signature: credentials.webhookSecret, wallClock: WallClock.unixMillis)
        }
        return (handlers, posters)
    }

    static func router(_ parts: Parts, configuration: OrderdConfiguration, logger: Logger, metrics: OrderdMetrics) -> Router {
        var router = Router()
        router.add("GET", .exact("/healthz"), scope: nil) { _, _ in
            .json(200, Array(#"{"status":"ok"}"#.utf8))
        }
        // Readiness for a balancer or an orchestrator: no key, like /healthz; the reason says no more than a
        // state (the store's error is in orderd's log, not in a public answer).
        let readiness = parts.readiness
        router.add("GET", .exact("/readyz"), scope: nil) { _, _ in
            guard let reason = readiness.check() else { return .json(200, Array(#"{"status":"ready"}"#.utf8)) }
            var writer = JSONWriter(capacity: 64 + reason.utf8.count)
            writer.beginObject()
            writer.key("status")
            writer.string("not_ready")
            writer.key("reason")
            writer.string(reason)
            writer.endObject()
            return .json(503, writer.bytes, headers: [("Retry-After", "1"), ("Cache-Control", "no-store")])
        }
        OrdersAPI(store: parts.store, busyTimeout: parts.busyTimeout, followUps: parts.followUps)
            .register(in: &router)
        let statistics = parts.statistics
        router.add("GET", .exact("/stats"), scope: .admin) { _, _ in
            .json(200, statistics.json(), headers: [("Cache-Control", "no-store")])
        }
        let status = StatusPage(
            followUps: parts.followUps, configuration: parts.running, sampler: parts.statusSampler,
            startedAtMillis: WallClock.unixMillis(), wallClock: WallClock.unixMillis)
        router.add("GET", .exact("/status"), scope: .admin) { request, _ in
            status.response(to: request)
        }
        // Prometheus text format (nginx serves it to localhost only).
        router.add("GET", .exact("/metrics"), scope: .admin) { _, _ in metrics.response() }
        return router
    }
}
