import CoreMetrics
import Logging
import OrderdFastCGI
import OrderdFollowUps
import OrderdHTTP
import OrderdStore
import OrderdSupport
import Prometheus
import Synchronization

/// orderd's metrics for `GET /metrics`, in Prometheus's text format.
///
/// Each instance has its own `PrometheusCollectorRegistry` (one per process in `orderd serve`; tests make
/// their own), and nothing is bootstrapped into swift-metrics' process-wide `MetricsSystem`, so several
/// instances live side by side in one test process.
///
/// - Counted where it happens, through observer hooks: requests (`requests`, a `RequestObserver` on the HTTP
///   edge), requests in flight (`countingInFlight(_:)`), follow-up task attempts (`tasks`, on `FollowUps`)
///   and the store's group commits (`store`, on the writer).
/// - Read at each scrape from snapshots the parts keep anyway: the executor, the follow-up counters, the
///   outbox counts (a SQLite read), the audit file's queue and the request threads (`SnapshotMetrics`).
package final class OrderdMetrics: Sendable {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    let registry: PrometheusCollectorRegistry
    package let requests: RequestMetrics
    let tasks: TaskMetrics
    let store: StoreMetrics
    /// For code instrumented with the swift-metrics API: `Counter(label:dimensions:factory: metrics.factory)`
    /// reports into this registry without bootstrapping the global `MetricsSystem` (no `# HELP` line then).
    let factory: any CoreMetrics.MetricsFactory
    private let inFlight: Prometheus.Gauge
    /// The two parts of `inFlight`, added at each scrape: requests on request threads, and those handed over to be
    /// answered by another thread (read from the FastCGI server once it exists).
    private let answering = InFlightCount()
    private let handedOver = Mutex<(@Sendable () -> Int)?>(nil)
    /// Nil without sources: only what is counted where it happens.
    private let snapshots: SnapshotMetrics?
    private let logger: Logger?

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), sources: MetricsSources?, logger: Logger? = nil) {
        self.registry = registry
        self.logger = logger
        requests = RequestMetrics(registry: registry)
        tasks = TaskMetrics(registry: registry)
        store = StoreMetrics(registry: registry)
        factory = PrometheusMetricsFactory(registry: registry)
        inFlight = registry.makeGauge(
            descriptor: .orderd(
                "http_requests_in_flight", unit: "",
                help: "Requests being answered now (this scrape included)."))
        snapshots = sources.map { SnapshotMetrics(registry: registry, sources: $0) }
        refusedConnections = registry.makeCounter(
            descriptor: .orderd(
                "connections_refused", unit: "total",
                help: "FastCGI connections closed at accept without an answer, by reason (allow_from: the peer is not in server.allow_from)."),
            labels: [("reason", "allow_from")])
        // Always 1: the labels say what runs (dashboards join on it; a deploy shows as a label change).
        registry.makeGauge(
            descriptor: .orderd("build_info", unit: "", help: "The orderd version and the Swift compiler it was built with; always 1."),
            labels: [("version", OrderdVersion.current), ("swift", OrderdVersion.swiftCompiler)]
        ).set(1.0)
    }

    private let refusedConnections: Prometheus.Counter

    /// For `FastCGIServer`'s `onRefusedPeer`: counts a connection refused by `server.allow_from`.
    package var refusedByAllowFrom: @Sendable () -> Void {
        { [refusedConnections] in refusedConnections.increment() }
    }

    /// The metrics of a running orderd: the store's writer and the follow-ups report to it from now on.
    package static func live(
        followUps: FollowUps, store: any OrderStore, auditLog: AuditLog, logger: Logger
    ) -> OrderdMetrics {
        let metrics = OrderdMetrics(sources: .live(followUps: followUps, store: store, auditLog: auditLog), logger: logger)
        followUps.observeOutcomes(metrics.tasks)
        (store as? any CommitObservable)?.observeCommits(metrics.store)
        return metrics
    }

    /// `responder`, counting the requests it is answering in `orderd_http_requests_in_flight`.
    package func countingInFlight(_ responder: any FastCGIResponder) -> any FastCGIResponder {
        InFlightResponder(responder: responder, answering: answering)
    }

    /// Reads the busy and idle request threads, and the requests handed over (in flight too), from `server` at
    /// each scrape.
    package func observeRequestThreads(of server: FastCGIServer) {
        observeRequestThreads { [server] in (server.busyThreads, server.threads) }
        handedOver.withLock { $0 = { [server] in server.handedOverRequests } }
    }

    /// Reads the busy and idle request threads from `counts` at each scrape.
    func observeRequestThreads(_ counts: @escaping @Sendable () -> (busy: Int, total: Int)) {
        snapshots?.observeRequestThreads(counts)
    }

    /// Every series, after reading the scrape-time figures.
    func scrape() -> [UInt8] {
        snapshots?.update(logger: logger)
        let handedOverNow = handedOver.withLock { $0 }?() ?? 0
        inFlight.set(Double(answering.count.load(ordering: .relaxed) + handedOverNow))
        var text: [UInt8] = []
        text.reserveCapacity(16 * 1024)
        registry.emit(into: &text)
        return text
    }

    /// The answer to `GET /metrics`.
    package func response() -> HTTPResponse {
        HTTPResponse(
            status: 200, headers: [("Content-Type", Self.contentType), ("Cache-Control", "no-store")], body: scrape())
    }
}
