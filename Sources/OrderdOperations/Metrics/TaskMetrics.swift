import OrderdExecutor
import OrderdFollowUps
import OrderdStore
import OrderdSupport
import Prometheus

/// Follow-up task attempts as they end: how long each took, by kind and by how it ended. Recorded on the
/// executor worker that settles the attempt; the histogram's `_count` is the real counter of attempts.
final class TaskMetrics: TaskOutcomeObserver {
    /// From an audit line (microseconds) to a gateway at its timeout (`executor.task_timeout`, 10 s by default).
    static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10), .seconds(30),
    ]

    private let registry: PrometheusCollectorRegistry
    /// The series made so far, by kind and outcome (made on first use, so kinds that never ran show nothing).
    /// Looked up on every attempt's outcome by whichever thread settles it: a pthread mutex, not a
    /// `Synchronization.Mutex` (see PThreadLocked).
    private let histograms = PThreadLocked([TaskKind: [String: DurationHistogram]]())

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func taskFinished(_ kind: TaskKind, _ outcome: ExecutorOutcome) {
        let (label, duration): (String, Duration)
        switch outcome {
        case .completed(let took): (label, duration) = ("completed", took)
        case .failed(_, let took): (label, duration) = ("failed", took)
        case .timedOut(let took): (label, duration) = ("timed_out", took)
        case .stuck(let took): (label, duration) = ("stuck", took)
        case .cancelledAtStop(let took): (label, duration) = ("cancelled_at_stop", took)
        case .notStarted: return
        }
        histogram(kind, label).record(duration)
    }

    private func histogram(_ kind: TaskKind, _ outcome: String) -> DurationHistogram {
        if let made = histograms.withLock({ $0[kind]?[outcome] }) { return made }
        let histogram = registry.makeDurationHistogram(
            descriptor: .orderd(
                "task_duration", unit: "seconds",
                help: "Follow-up task attempts by kind and outcome (completed, failed, timed_out, stuck, cancelled_at_stop) and how long each ran."),
            labels: [("kind", kind.rawValue), ("outcome", outcome)], buckets: Self.buckets)
        // The registry hands out one histogram per label set, so a racing thread stores the same one.
        histograms.withLock { $0[kind, default: [:]][outcome] = histogram }
        return histogram
    }
}
