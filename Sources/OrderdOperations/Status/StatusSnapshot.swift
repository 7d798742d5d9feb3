import OrderdExecutor
import OrderdFollowUps
import OrderdStore
import OrderdSupport

/// Everything `/status` shows, read once per request, so that the JSON and the HTML page of one request show
/// the same numbers (and one list of fields feeds both).
struct StatusSnapshot: Sendable {
    var version: String
    var nowMillis: Int64
    var startedAtMillis: Int64
    var configPath: String
    var configDigest: String
    var configLoadedAtMillis: Int64
    var logLevel: String
    var logFormat: String
    /// The request threads running: `server.request_workers` (restart-only), `auto` resolved.
    var requestWorkers: Int
    var requests: RequestCounts
    var executor: ExecutorStatistics
    var tasks: FollowUpCounters
    /// nil when the store could not be read.
    var outbox: OutboxCounts?
    /// Known durable kinds no handler of this process runs: their pending tasks are left alone here.
    var unhandledKinds: [String] = []
    /// Oldest first.
    var history: [StatusSample]
    var sampleInterval: Duration
    var historyCapacity: Int

    var uptimeSeconds: Int64 { (nowMillis - startedAtMillis) / 1000 }

    var oldestPendingAgeSeconds: Int64? {
        outbox?.oldestPendingMillis.map { max(0, nowMillis - $0) / 1000 }
    }

    /// `executor` in `/status`, in order.
    var executorFields: [(name: String, value: Int)] {
        [
            ("workers", executor.workers), ("queue_capacity", executor.queueCapacity), ("running", executor.running),
            ("queued", executor.queued), ("idle_workers", executor.idleWorkers), ("submitted", executor.submitted),
            ("rejected", executor.rejected), ("completed", executor.completed), ("failed", executor.failed),
            ("timed_out", executor.timedOut), ("stuck", executor.stuck), ("abandoned_workers", executor.abandonedWorkers),
        ]
    }

    /// `tasks` in `/status` apart from `dropped`, in order.
    var taskFields: [(name: String, value: Int)] {
        [
            ("done", tasks.done), ("retried", tasks.retried), ("dead", tasks.dead),
            ("timed_out", tasks.timedOut), ("stuck", tasks.stuck), ("overflowed_to_outbox", tasks.overflowed),
            ("best_effort_done", tasks.bestEffortDone),
        ]
    }

    /// `tasks.dropped`: best-effort kinds dropped, by kind.
    var droppedFields: [(name: String, value: Int)] {
        TaskKind.allCases.filter { !$0.isDurable }.map { ($0.rawValue, tasks.dropped[$0] ?? 0) }
    }

    /// `requests` in `/status`, in order.
    var requestFields: [(name: String, value: Int)] {
        [
            ("workers", requestWorkers), ("finished", requests.finished), ("client_errors", requests.clientErrors),
            ("server_errors", requests.serverErrors), ("orders_created", requests.ordersCreated),
        ]
    }
}
