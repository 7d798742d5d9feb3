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

    /// The `outcome` label: how an attempt that started ended.
    private enum Outcome: Int, CaseIterable {
        case completed, failed, timedOut, stuck, cancelledAtStop

        var label: String {
            switch self {
            case .completed: "completed"
            case .failed: "failed"
            case .timedOut: "timed_out"
            case .stuck: "stuck"
            case .cancelledAtStop: "cancelled_at_stop"
            }
        }
    }

    private let registry: PrometheusCollectorRegistry
    /// The series made so far, by kind and outcome (`TaskKind.index` × `Outcome.allCases.count` + its raw value;
    /// made on first use, so kinds that never ran show nothing). Looked up on every attempt's outcome by
    /// whichever thread settles it: a pthread mutex, not a `Synchronization.Mutex` (see PThreadLocked), and a
    /// table, not a dictionary, so no label is hashed per task.
    private let histograms = PThreadLocked([DurationHistogram?](repeating: nil, count: TaskKind.allCases.count * Outcome.allCases.count))

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func taskFinished(_ kind: TaskKind, _ outcome: ExecutorOutcome) {
        let (ended, duration): (Outcome, Duration)
        switch outcome {
        case .completed(let took): (ended, duration) = (.completed, took)
        case .failed(_, let took): (ended, duration) = (.failed, took)
        case .timedOut(let took): (ended, duration) = (.timedOut, took)
        case .stuck(let took): (ended, duration) = (.stuck, took)
        case .cancelledAtStop(let took): (ended, duration) = (.cancelledAtStop, took)
        case .notStarted: return
        }
        histogram(kind, ended).record(duration)
    }

    private func histogram(_ kind: TaskKind, _ outcome: Outcome) -> DurationHistogram {
        let slot = kind.index * Outcome.allCases.count + outcome.rawValue
        if let made = histograms.withLock({ $0[slot] }) { return made }
        let histogram = registry.makeDurationHistogram(
            descriptor: .orderd(
                "task_duration", unit: "seconds",
                help: "Follow-up task attempts by kind and outcome (completed, failed, timed_out, stuck, cancelled_at_stop) and how long each ran."),
            labels: [("kind", kind.rawValue), ("outcome", outcome.label)], buckets: Self.buckets)
        // The registry hands out one histogram per label set, so a racing thread stores the same one.
        histograms.withLock { $0[slot] = histogram }
        return histogram
    }
}
