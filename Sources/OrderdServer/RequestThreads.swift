import Logging
import OrderdFastCGI
import OrderdSupport
import Synchronization

/// The FastCGI request threads as a part of the lifecycle. Their stop lets requests in flight finish until its
/// deadline and remembers whether they all did: the store must not close under a thread that still uses it.
final class RequestThreads: BackgroundService {
    let name = "request threads"
    let server: FastCGIServer
    private let logger: Logger
    private let finished = Atomic(true)

    init(_ server: FastCGIServer, logger: Logger) {
        self.server = server
        self.logger = logger
    }

    /// Every request that was in flight at the stop finished (true before a stop).
    var allFinished: Bool { finished.load(ordering: .acquiring) }

    func start() throws {
        try server.start()
    }

    func stop(deadline: ContinuousClock.Instant) -> Bool {
        let drained = server.stop(deadline: deadline)
        finished.store(drained, ordering: .releasing)
        if !drained { logger.error("requests still running at the stop deadline; exiting anyway") }
        return drained
    }
}
