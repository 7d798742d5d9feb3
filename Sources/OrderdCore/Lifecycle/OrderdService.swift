import Logging

#if canImport(Glibc)
import Glibc
#endif

/// One running orderd: store, HTTP edge and request threads, from start to a graceful stop.
///
/// `run()` blocks the calling thread: it waits for signals with `sigwait`, so `Signals.block()` must have run
/// before any thread was started.
public final class OrderdService {
    private let configuration: OrderdConfiguration
    private let configPath: String
    private let logger: Logger
    private let environment: [String: String]

    public init(configuration: OrderdConfiguration, configPath: String, logger: Logger, environment: [String: String]) {
        self.configuration = configuration
        self.configPath = configPath
        self.logger = logger
        self.environment = environment
    }

    /// Serves until SIGTERM/SIGINT/SIGQUIT; returns the process exit code.
    public func run() throws -> Int32 {
        let notifier = SystemdNotifier(environment: environment)
        let store = try OrderdService.openStore(configuration, logger: logger)
        let listener = try ListenSocket.resolve(configuration.server, environment: environment)
        let edge = HTTPEdge(
            router: OrderdService.router(store: store, configuration: configuration, logger: logger),
            maxBodyBytes: configuration.server.maxBodyBytes,
            logger: logger
        )
        let server = FastCGIServer(
            listenFD: listener.fd,
            workers: configuration.server.requestWorkers,
            requestTimeout: configuration.server.requestTimeout,
            responder: edge,
            logger: logger
        )
        server.start()
        logger.notice(
            "orderd serving",
            metadata: [
                "listen": "\(listener.name)", "socket_from": "\(listener.origin.rawValue)",
                "request_workers": "\(configuration.server.requestWorkers)", "config": "\(configPath)",
                "store": "\(configuration.store.path)", "pid": "\(getpid())",
            ]
        )
        notifier.notify("READY=1\nSTATUS=serving on \(listener.name)\nMAINPID=\(getpid())")

        while true {
            let signal = Signals.wait()
            if signal == SIGHUP {
                logger.warning("SIGHUP received: live reload is not implemented yet; restart to apply changes")
                continue
            }
            logger.notice("stopping", metadata: ["signal": "\(Signals.name(signal))"])
            notifier.notify("STOPPING=1\nSTATUS=stopping: finishing requests in flight")
            break
        }

        // In-flight requests get up to request_timeout; nobody new is accepted meanwhile.
        let deadline = ContinuousClock.now.advanced(by: configuration.server.requestTimeout + .milliseconds(500))
        let drained = server.stop(deadline: deadline)
        if !drained { logger.error("requests still running at the stop deadline; exiting anyway") }
        if drained { store.close() }
        if listener.origin == .created, case .unix(let path) = configuration.server.listen {
            unlink(path)
        }
        logger.notice("stopped", metadata: ["clean": "\(drained)"])
        return drained ? 0 : 1
    }
}
