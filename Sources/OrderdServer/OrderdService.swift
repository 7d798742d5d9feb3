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
        // Metrics (GET /metrics): this process's own registry; the store and the follow-ups report to it from here.
        let metrics = OrderdMetrics.live(followUps: parts.followUps, store: parts.store, logger: logger)
        let listener = try ListenSocket.resolve(configuration.server, environment: environment)
        try parts.followUps.start()
        try parts.statusSampler.start()
        if configuration.sms.driver == .log {
            logger.notice("task.sms.driver = log: SMS are logged, not sent; set driver = http and gateway_url to send them")
        }
        let requests = parts.requests
        let edge = HTTPEdge(
            router: OrderdService.router(parts, configuration: configuration, logger: logger, metrics: metrics),
            keyring: keyring,
            maxBodyBytes: configuration.server.maxBodyBytes,
            logRequests: configuration.log.requests,
            logger: logger,
            observers: [SlowRequestLog(threshold: parts.slowRequest, logger: logger), requests, metrics.requests]
        )
        let server = FastCGIServer(
            listenFD: listener.fd,
            workers: configuration.server.requestWorkers,
            requestTimeout: configuration.server.requestTimeout,
            allowFrom: configuration.server.allowFrom,
            onRefusedPeer: metrics.refusedByAllowFrom,
            responder: metrics.countingInFlight(edge),
            logger: logger
        )
        metrics.observeRequestThreads(of: server)
        server.start()
        logger.notice(
            "orderd serving",
            metadata: [
                "listen": "\(listener.name)", "socket_from": "\(listener.origin.rawValue)",
                "request_workers": "\(configuration.server.requestWorkers)", "config": "\(configPath)",
                "store": "\(configuration.store.path)", "pid": "\(getpid())",
                "executor_workers": "\(configuration.executor.workers)", "lease_owner": "\(parts.followUps.owner)",
                "api_keys": "\(keyring.count)",
            ]
        )
        let health = HealthMonitor(
            server: server, followUps: parts.followUps, requests: requests, notifier: notifier,
            environment: environment, listenName: listener.name, requestTimeout: { [server] in server.requestTimeout },
            logger: logger)
        try health.start()
        notifier.notify("READY=1\nSTATUS=serving on \(listener.name)\nMAINPID=\(getpid())")

        var running = configuration
        var posters = parts.posters
        let live = LiveSettings(logSettings: logSettings, server: server, edge: edge, keyring: keyring, parts: parts)
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
            health.stop()
            parts.readiness.beginDraining()
            notifier.notify("STOPPING=1\nSTATUS=stopping: finishing requests in flight")
            break
        }

        // The values in force (both keys are live, so a reload since the start counts), each capped so the stop
        // fits TimeoutStopSec (OrderdService+StopBudget.swift).
        let drainTimeout = Self.stopDrain(running)
        // In-flight requests get up to request_timeout; nobody new is accepted meanwhile.
        let deadline = ContinuousClock.now.advanced(by: Self.stopRequestWait(running))
        let drained = server.stop(deadline: deadline)
        if !drained { logger.error("requests still running at the stop deadline; exiting anyway") }
        // Nobody reads /status any more, and the sampler reads the store: it stops before the store closes.
        parts.statusSampler.stop()
        // Then the follow-up work: up to drain_timeout for what runs and waits; the rest stays in the outbox.
        notifier.notify("STATUS=stopping: draining follow-up tasks (up to \(ConfigValue.formatDuration(drainTimeout)))")
        let report = parts.followUps.stop(drainDeadline: .now.advanced(by: drainTimeout))
        logger.notice("executor stopped", metadata: [
            "drained": "\(report.drained)", "cancelled": "\(report.cancelled)", "not_started": "\(report.notStarted)",
            "stuck": "\(report.stuck)",
        ])
        for poster in posters { poster.shutdown() }
        parts.auditLog.close()
        if drained { parts.store.close() }
        if listener.origin == .created, case .unix(let path) = configuration.server.listen {
            unlink(path)
        }
        logger.notice("stopped", metadata: ["clean": "\(drained)"])
        return drained ? 0 : 1
    }
}
