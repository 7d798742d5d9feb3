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

    /// The `outcome` label's values, in the order `taskFinished` numbers them.
    private static let outcomes = ["completed", "failed", "timed_out", "stuck", "cancelled_at_stop"]

    private let registry: PrometheusCollectorRegistry
    /// The series made so far, by kind and outcome (`TaskKind.index` × `outcomes.count` + the outcome's place;
    /// made on first use, so kinds that never ran show nothing). Looked up on every attempt's outcome by
    /// whichever thread settles it: a pthread mutex, not a `Synchronization.Mutex` (see PThreadLocked), and a
    /// table, not a dictionary, so no label is hashed per task.
    private let histograms = PThreadLocked([DurationHistogram?](repeating: nil, count: TaskKind.allCases.count * outcomes.count))

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func taskFinished(_ kind: TaskKind, _ outcome: ExecutorOutcome) {
        let (place, duration): (Int, Duration)
        switch outcome {
        case .completed(let took): (place, duration) = (0, took)
        case .failed(_, let took): (place, duration) = (1, took)
        case .timedOut(let took): (place, duration) = (2, took)
        case .stuck(let took): (place, duration) = (3, took)
        case .cancelledAtStop(let took): (place, duration) = (4, took)
        case .notStarted: return
        }
        histogram(kind, place).record(duration)
    }

    private func histogram(_ kind: TaskKind, _ outcome: Int) -> DurationHistogram {
        let slot = kind.index * Self.outcomes.count + outcome
        if let made = histograms.withLock({ $0[slot] }) { return made }
        let histogram = registry.makeDurationHistogram(
            descriptor: .orderd(
                "task_duration", unit: "seconds",
                help: "Follow-up task attempts by kind and outcome (completed, failed, timed_out, stuck, cancelled_at_stop) and how long each ran."),
            labels: [("kind", kind.rawValue), ("outcome", Self.outcomes[outcome])], buckets: Self.buckets)
        // The registry hands out one histogram per label set, so a racing thread stores the same one.
        histograms.withLock { $0[slot] = histogram }
        return histogram
    }
}
