import Logging
import OrderdConfig
import OrderdFastCGI
import OrderdFollowUps
import OrderdHTTP
import OrderdOperations
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// One running orderd: store, HTTP edge and request threads, from start to a graceful stop.
///
/// `run()` blocks the calling thread: it waits for signals with `sigwait`, so `Signals.block()` must have run
/// before any thread was started.
package final class OrderdService {
    private let configuration: OrderdConfiguration
    let configPath: String
    let logger: Logger
    private let logSettings: LogSettings
    let environment: [String: String]

    package init(
        configuration: OrderdConfiguration, configPath: String, logger: Logger, logSettings: LogSettings,
        environment: [String: String]
    ) {
        self.configuration = configuration
        self.configPath = configPath
        self.logger = logger
        self.logSettings = logSettings
        self.environment = environment
    }

    /// Serves until SIGTERM/SIGINT/SIGQUIT; returns the process exit code.
    ///
    /// The parts start in the order below and stop in reverse, so none outlives what it uses: the health
    /// monitor first, then `/readyz` says draining, the request threads finish what is in flight, the status
    /// sampler (it reads the store), the follow-up tasks drain (what does not stays in the outbox), the HTTP
    /// clients, the audit file, and the store last.
    package func run() throws -> Int32 {
        let notifier = SystemdNotifier(environment: environment)
        for warning in configuration.warnings { logger.warning("\(warning)") }
        let keyring = APIKeyring(
            keys: try APIKeyFile.load(configuration.auth.keysFile, environment: environment),
            ordersPerMinute: configuration.auth.ordersPerMinute)
        if keyring.count == 0 {
            logger.warning("no API keys in auth.keys_file: every request but /healthz is refused; add one with `orderd keys new`", metadata: ["keys_file": "\(configuration.auth.keysFile)"])
        }
        let credentials = try OutgoingCredentials.load(configuration, environment: environment)
        let parts = try OrderdService.openParts(configuration, credentials: credentials, path: configPath, logger: logger)
        // The values in force at the stop (a reload may change the live ones): each stop's budget reads them.
        var running = configuration
        var posters = parts.posters
        var lifecycle = ServiceLifecycle()
        let quickStop = { Self.exitMargin }  // parts that stop at once
        let logStop = { [logger] (report: StopReport) in
            logger.notice("part stopped", metadata: [
                "part": "\(report.name)", "took_ms": "\(report.took.millisecondsText)",
                "met_deadline": "\(report.metDeadline)",
            ])
        }

        // Set once the request threads start; the store's stop asks it.
        var requestThreads: RequestThreads?
        let listener: ListenSocket
        let live: LiveSettings
        do {
            let store = parts.store
            lifecycle.started("store", stopBudget: { max(running.store.busyTimeout, Self.postgresClose) }) { _ in
                // A request thread still running may still use the store: leave it open, the exit ends it.
                guard requestThreads?.allFinished ?? true else { return false }
                store.close()
                return true
            }
            try lifecycle.start(parts.auditLog, stopBudget: quickStop)
            lifecycle.started("http clients", stopBudget: quickStop) { _ in
                for poster in posters { poster.shutdown() }
                return true
            }
            // Metrics (GET /metrics): this process's own registry; the store and the follow-ups report to it from here.
            let metrics = OrderdMetrics.live(
                followUps: parts.followUps, store: parts.store, auditLog: parts.auditLog, logger: logger)
            listener = try ListenSocket.resolve(configuration.server, environment: environment)
            let followUps = parts.followUps
            try followUps.start()
            lifecycle.started("follow-up tasks", stopBudget: { Self.stopDrain(running) }) { [logger] deadline in
                // Up to drain_timeout for what runs and waits; the rest stays in the outbox.
                notifier.notify("STATUS=stopping: draining follow-up tasks (up to \(ConfigValue.formatDuration(Self.stopDrain(running))))")
                let report = followUps.stop(drainDeadline: deadline)
                logger.notice("executor stopped", metadata: [
                    "drained": "\(report.drained)", "cancelled": "\(report.cancelled)", "not_started": "\(report.notStarted)",
                    "stuck": "\(report.stuck)",
                ])
                return report.drained
            }
            try lifecycle.start(parts.statusSampler, stopBudget: quickStop)
            if configuration.sms.driver == .log {
                logger.notice("task.sms.driver = log: SMS are logged, not sent; set driver = http and gateway_url to send them")
            }
            let edge = HTTPEdge(
                router: OrderdService.router(parts, configuration: configuration, logger: logger, metrics: metrics),
                keyring: keyring,
                maxBodyBytes: configuration.server.maxBodyBytes,
                logRequests: configuration.log.requests,
                logger: logger,
                observers: [SlowRequestLog(threshold: parts.slowRequest, logger: logger), parts.requests, metrics.requests]
            )
            let server = FastCGIServer(
                listenFD: listener.fd,
                workers: configuration.requestThreads(),
                requestTimeout: configuration.server.requestTimeout,
                allowFrom: configuration.server.allowFrom,
                onRefusedPeer: metrics.refusedByAllowFrom,
                responder: metrics.countingInFlight(edge),
                logger: logger
            )
            metrics.observeRequestThreads(of: server)
            let threads = RequestThreads(server, logger: logger)
            requestThreads = threads
            // In-flight requests get up to request_timeout; nobody new is accepted meanwhile.
            try lifecycle.start(threads, stopBudget: { Self.stopRequestWait(running) })
            logger.notice(
                "orderd serving",
                metadata: [
                    "listen": "\(listener.name)", "socket_from": "\(listener.origin.rawValue)",
                    "request_workers": "\(configuration.requestThreads())", "config": "\(configPath)",
                    "store": "\(configuration.store.path)", "pid": "\(getpid())",
                    "executor_workers": "\(configuration.executor.workers)", "lease_owner": "\(parts.followUps.owner)",
                    "api_keys": "\(keyring.count)",
                ]
            )
            let readiness = parts.readiness
            lifecycle.started("readiness", stopBudget: quickStop) { _ in
                readiness.beginDraining()
                notifier.notify("STOPPING=1\nSTATUS=stopping: finishing requests in flight")
                return true
            }
            let health = HealthMonitor(
                server: server, followUps: parts.followUps, requests: parts.requests, notifier: notifier,
                environment: environment, listenName: listener.name, requestTimeout: { [server] in server.requestTimeout },
                logger: logger)
            try lifecycle.start(health, stopBudget: quickStop)
            live = LiveSettings(logSettings: logSettings, server: server, edge: edge, keyring: keyring, parts: parts)
        } catch {
            lifecycle.stopAll(report: logStop)
            throw error
        }
        notifier.notify("READY=1\nSTATUS=serving on \(listener.name)\nMAINPID=\(getpid())")

        while true {
            let signal = Signals.wait()
            if signal == SIGHUP {
                notifier.notify("RELOADING=1\nSTATUS=reloading \(configPath)")
                running = reload(running: running, live: live, posters: &posters)
                notifier.notify("READY=1\nSTATUS=serving on \(listener.name)")
                continue
            }
            logger.notice("stopping", metadata: [
                "signal": "\(Signals.name(signal))",
                "request_timeout": "\(ConfigValue.formatDuration(running.server.requestTimeout))",
                "drain_timeout": "\(ConfigValue.formatDuration(running.executor.drainTimeout))",
                "budget": "\(ConfigValue.formatDuration(Self.stopBudget(running)))",
            ])
            break
        }

        // Each phase's budget is the value in force, capped so the stop fits TimeoutStopSec
        // (OrderdService+StopBudget.swift).
        lifecycle.stopAll(report: logStop)
        let drained = requestThreads?.allFinished ?? true
        if listener.origin == .created, case .unix(let path) = configuration.server.listen {
            unlink(path)
        }
        logger.notice("stopped", metadata: ["clean": "\(drained)"])
        return drained ? 0 : 1
    }
}
