import Logging
import OrderdFastCGI
import OrderdFollowUps
import OrderdOperations
import OrderdStore
import OrderdSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Keeps systemd informed, like PHP-FPM's status line: a `STATUS=` line with live numbers every 5 s, and,
/// when the unit sets `WatchdogSec=`, `WATCHDOG=1` — but only while the parts that do the work move.
///
/// The watchdog is fed from what the work itself leaves behind, not from a timer that always fires: the request
/// threads' heartbeats (a request handled, or an idle thread's wait, at least once a second), the executor's
/// finished tasks while tasks wait, and the store's writer taking up queued writes. If one of them stands still
/// for its allowance, the pings stop and systemd restarts orderd (`Restart=on-failure`): nothing acknowledged
/// is lost, the outbox carries the follow-up work over.
final class HealthMonitor: BackgroundService {
    private let server: FastCGIServer
    private let followUps: FollowUps
    private let requests: RequestCounter
    private let notifier: SystemdNotifier
    private let logger: Logger
    private let listenName: String
    private let requestTimeout: @Sendable () -> Duration
    private let watchdogInterval: Duration?
    private let thread = BackgroundThread(name: "orderd-health")
    let name = "health monitor"

    init(
        server: FastCGIServer, followUps: FollowUps, requests: RequestCounter, notifier: SystemdNotifier,
        environment: [String: String], listenName: String, requestTimeout: @escaping @Sendable () -> Duration,
        logger: Logger
    ) {
        self.server = server
        self.followUps = followUps
        self.requests = requests
        self.notifier = notifier
        self.listenName = listenName
        self.requestTimeout = requestTimeout
        self.logger = logger
        // sd_watchdog_enabled(3): WATCHDOG_USEC, for this process when WATCHDOG_PID is set.
        var interval: Duration?
        if let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0,
            environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true
        {
            interval = .microseconds(usec)
        }
        watchdogInterval = interval
    }

    func start() throws {
        guard notifier.isEnabled else { return }
        try thread.start { [self] context in run(context) }
    }

    /// Returns after the current round: a round is a few counter reads and at most one outbox count.
    func stop(deadline: ContinuousClock.Instant) -> Bool {
        thread.stop()
        return true
    }

    /// When each part last moved.
    struct Progress {
        var heartbeats: UInt64
        var heartbeatsAt: ContinuousClock.Instant
        var executorDone: Int
        var executorDoneAt: ContinuousClock.Instant
    }

    /// What stands still, or nil. Request threads get `request_timeout` + 5 s (every thread may be busy with a
    /// slow request that long); the executor 60 s with tasks waiting and none finishing (a task's deadline plus
    /// the stuck grace frees a worker well before that at the default task_timeout).
    static func stall(_ progress: Progress, now: ContinuousClock.Instant, requestTimeout: Duration, queued: Int) -> String? {
        if now - progress.heartbeatsAt > requestTimeout + .seconds(5) {
            return "request threads: no request finished and no idle round for \(now - progress.heartbeatsAt)"
        }
        if now - progress.executorDoneAt > .seconds(60) {
            return "executor: \(queued) tasks queued and none finished for \(now - progress.executorDoneAt)"
        }
        return nil
    }

    private func run(_ context: BackgroundThread.Context) {
        let start = ContinuousClock.now
        var progress = Progress(heartbeats: server.heartbeats, heartbeatsAt: start, executorDone: 0, executorDoneAt: start)
        var lastRequests = requests.counts.finished
        var lastStatus = start
        var lastPing = ContinuousClock.Instant?.none
        var reportedStall = false
        while context.wait(until: .now + .seconds(1)) {
            let now = ContinuousClock.now
            let executor = followUps.snapshot(withOutbox: false).executor
            let beats = server.heartbeats
            if beats != progress.heartbeats { (progress.heartbeats, progress.heartbeatsAt) = (beats, now) }
            let done = executor.completed + executor.failed + executor.timedOut + executor.stuck
            if done != progress.executorDone || executor.queued == 0 { (progress.executorDone, progress.executorDoneAt) = (done, now) }

            let stalled = Self.stall(progress, now: now, requestTimeout: requestTimeout(), queued: executor.queued)
            if let stalled {
                if !reportedStall {
                    logger.critical("stalled: not feeding the systemd watchdog", metadata: ["what": "\(stalled)"])
                    reportedStall = true
                }
            } else {
                reportedStall = false
                if let interval = watchdogInterval, lastPing.map({ now - $0 >= interval / 2 }) ?? true {
                    notifier.notify("WATCHDOG=1")
                    lastPing = now
                }
            }
            if now - lastStatus >= .seconds(5) {
                let total = requests.counts.finished
                let seconds = Double((now - lastStatus).components.seconds) + Double((now - lastStatus).components.attoseconds) / 1e18
                let rate = Double(total - lastRequests) / max(seconds, 0.001)
                (lastRequests, lastStatus) = (total, now)
                let outbox = try? followUps.snapshot(withOutbox: true).outbox?.get()
                var line = "STATUS=serving on \(listenName): \(Int(rate.rounded())) req/s"
                line += "; tasks running \(executor.running)/\(executor.workers), queued \(executor.queued)"
                if let outbox {
                    line += "; outbox pending \(outbox.pending)"
                    if let oldest = outbox.oldestPendingMillis {
                        line += " (oldest \((WallClock.unixMillis() - oldest) / 1000)s)"
                    }
                    line += ", dead \(outbox.dead)"
                }
                if stalled != nil { line += "; STALLED" }
                notifier.notify(line)
            }
        }
    }
}
