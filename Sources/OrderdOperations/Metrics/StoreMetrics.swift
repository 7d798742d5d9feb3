import OrderdConfig
import OrderdStore
import OrderdSupport
import Prometheus

/// The group-commit writer's transactions as they end: how long each took from `BEGIN IMMEDIATE` to `COMMIT`
/// (the fsync included), and how many orders it carried. Recorded on the writer thread, after the requests in
/// the batch were answered. And the SQLite store's WAL checkpoints: the writer's own between two transactions
/// hold up the next batch, so a long one is what a tail of slow answers without slow commits points to.
final class StoreMetrics: CommitObserver {
    /// From a commit without fsync (tens of microseconds) to a wait for another process's write lock
    /// (`store.busy_timeout`, 5 s by default).
    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
    ]
    /// Powers of two up to the writer's batch limit (256), like `GroupCommitStatistics.batchSizes`.
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    private let committed: DurationHistogram
    private let failed: DurationHistogram
    private let batchSize: ValueHistogram
    private let checkpointByWriter: DurationHistogram
    private let checkpointBeside: DurationHistogram

    init(registry: PrometheusCollectorRegistry) {
        (committed, failed) = Self.durations(
            registry, "store_commit_duration", label: "result", "committed", "failed",
            help: "Group-commit transactions of the store writer, by result (committed or failed), and how long each took from BEGIN to COMMIT.")
        batchSize = registry.makeValueHistogram(
            descriptor: .orderd(
                "store_commit_batch", unit: "orders",
                help: "Orders written per group-commit transaction (transactions of outbox changes only are not counted)."),
            buckets: Self.batchBuckets)
        (checkpointByWriter, checkpointBeside) = Self.durations(
            registry, "store_checkpoint_duration", label: "by", "writer", "checkpointer",
            help: "WAL checkpoints of the SQLite store and how long each took, by who ran it: the writer between two transactions (the next batch waits for it) or the checkpointer thread beside it.")
    }

    /// One duration histogram (`durationBuckets`, in seconds) with one label and two values of it.
    private static func durations(
        _ registry: PrometheusCollectorRegistry, _ name: String, label: String, _ first: String, _ second: String,
        help: String
    ) -> (DurationHistogram, DurationHistogram) {
        let descriptor = MetricNameDescriptor.orderd(name, unit: "seconds", help: help)
        return (
            registry.makeDurationHistogram(descriptor: descriptor, labels: [(label, first)], buckets: durationBuckets),
            registry.makeDurationHistogram(descriptor: descriptor, labels: [(label, second)], buckets: durationBuckets)
        )
    }

    func transactionFinished(duration: Duration, orders: Int, committed didCommit: Bool) {
        (didCommit ? committed : failed).record(duration)
        if orders > 0 { batchSize.record(Double(orders)) }
    }

    func checkpointFinished(duration: Duration, byWriter: Bool) {
        (byWriter ? checkpointByWriter : checkpointBeside).record(duration)
    }
}
