import CoreMetrics
import Synchronization
import Testing
import TestSupport

import OrderdExecutor
import OrderdConfig
// @testable: these tests read internals: OrderdStore (unavailable); OrderdFollowUps (count, settler); OrderdHTTP
//  (RequestRecord.init); OrderdOperations (MetricsSources, OrderdMetrics, RequestRecord).
@testable import OrderdStore
@testable import OrderdFollowUps
@testable import OrderdHTTP
@testable import OrderdOperations

/// The metrics behind `GET /metrics`: each hook feeds the right series, snapshots become counters and gauges,
/// and the text is Prometheus's format. Every test makes its own registry.
@Suite struct MetricsTests {
    static func record(_ method: String, _ route: String, _ status: Int, _ duration: Duration = .milliseconds(3)) -> RequestRecord {
        RequestRecord(
            method: method, route: route, status: status, duration: duration, bytes: 10, requestID: "r",
            timings: RequestTimings())
    }

    @Test func requestsAreCountedByMethodRouteAndStatusWithTheirLatencyByRoute() {
        let metrics = OrderdMetrics(sources: nil)
        let observer: any RequestObserver = metrics.requests
        observer.requestFinished(Self.record("POST", "/orders", 201, .microseconds(300)))
        observer.requestFinished(Self.record("POST", "/orders", 201, .milliseconds(40)))
        observer.requestFinished(Self.record("POST", "/orders", 422))
        observer.requestFinished(Self.record("GET", "/orders/{id}", 200))
        observer.requestFinished(Self.record("BREW", "unmatched", 404))

        let text = String(decoding: metrics.scrape(), as: UTF8.self)
        let scrape = MetricsScrape(text)
        #expect(scrape[#"orderd_http_requests_total{method="POST",route="/orders",status="201"}"#] == 2)
        #expect(scrape[#"orderd_http_requests_total{method="POST",route="/orders",status="422"}"#] == 1)
        #expect(scrape[#"orderd_http_requests_total{method="GET",route="/orders/{id}",status="200"}"#] == 1)
        // A method orderd does not know does not make a series of its own.
        #expect(scrape[#"orderd_http_requests_total{method="other",route="unmatched",status="404"}"#] == 1)
        #expect(!text.contains("BREW"))

        #expect(scrape[#"orderd_http_request_duration_seconds_count{route="/orders"}"#] == 3)
        #expect(scrape[#"orderd_http_request_duration_seconds_bucket{route="/orders",le="0.0005"}"#] == 1)
        #expect(scrape[#"orderd_http_request_duration_seconds_bucket{route="/orders",le="0.025"}"#] == 2)
        #expect(scrape[#"orderd_http_request_duration_seconds_bucket{route="/orders",le="+Inf"}"#] == 3)
        let sum = scrape[#"orderd_http_request_duration_seconds_sum{route="/orders"}"#] ?? 0
        #expect(abs(sum - 0.0433) < 1e-9)
        #expect(scrape[#"orderd_http_request_duration_seconds_count{route="/orders/{id}"}"#] == 1)

        #expect(text.contains("# TYPE orderd_http_requests_total counter\n"))
        #expect(text.contains("# HELP orderd_http_requests_total Requests answered by orderd"))
        #expect(text.contains("# TYPE orderd_http_request_duration_seconds histogram\n"))
        #expect(text.contains(#"orderd_http_requests_total{method="POST",route="/orders",status="201"} 2"# + "\n"))
        #expect(scrape.problems.isEmpty, "\(scrape.problems)")
    }

    @Test func requestsFromManyThreadsAreAllCounted() async {
        let metrics = OrderdMetrics(sources: nil)
        await withTaskGroup(of: Void.self) { group in
            for thread in 0..<4 {
                group.addTask {
                    for number in 0..<500 {
                        metrics.requests.requestFinished(Self.record("POST", "/orders", number % 5 == 0 ? 422 : 201))
                        metrics.requests.requestFinished(Self.record("GET", thread % 2 == 0 ? "/orders/{id}" : "/healthz", 200))
                    }
                }
            }
        }
        let scrape = MetricsScrape(String(decoding: metrics.scrape(), as: UTF8.self))
        #expect(scrape[#"orderd_http_requests_total{method="POST",route="/orders",status="201"}"#] == 1_600)
        #expect(scrape[#"orderd_http_requests_total{method="POST",route="/orders",status="422"}"#] == 400)
        #expect(scrape[#"orderd_http_request_duration_seconds_count{route="/orders"}"#] == 2_000)
        #expect(scrape[#"orderd_http_request_duration_seconds_count{route="/orders/{id}"}"#] == 1_000)
        #expect(scrape[#"orderd_http_request_duration_seconds_count{route="/healthz"}"#] == 1_000)
    }

    @Test func taskAttemptsAreRecordedByKindAndOutcome() {
        let metrics = OrderdMetrics(sources: nil)
        let observer: any TaskOutcomeObserver = metrics.tasks
        observer.taskFinished(.sms, .completed(duration: .milliseconds(20)))
        observer.taskFinished(.sms, .completed(duration: .milliseconds(700)))
        observer.taskFinished(.sms, .failed(FollowUpError.transient("HTTP 503"), duration: .milliseconds(5)))
        observer.taskFinished(.audit, .timedOut(duration: .seconds(10)))
        observer.taskFinished(.stats, .notStarted)  // never ran: nothing to time

        let text = String(decoding: metrics.scrape(), as: UTF8.self)
        let scrape = MetricsScrape(text)
        #expect(scrape[#"orderd_task_duration_seconds_count{kind="sms",outcome="completed"}"#] == 2)
        #expect(scrape[#"orderd_task_duration_seconds_bucket{kind="sms",outcome="completed",le="0.025"}"#] == 1)
        #expect(scrape[#"orderd_task_duration_seconds_bucket{kind="sms",outcome="completed",le="1.0"}"#] == 2)
        #expect(scrape[#"orderd_task_duration_seconds_count{kind="sms",outcome="failed"}"#] == 1)
        #expect(scrape[#"orderd_task_duration_seconds_count{kind="audit",outcome="timed_out"}"#] == 1)
        #expect(!text.contains(#"kind="stats""#))
        #expect(text.contains("# TYPE orderd_task_duration_seconds histogram\n"))
    }

    @Test func commitsRecordTheirDurationByResultAndTheirBatchSize() {
        let metrics = OrderdMetrics(sources: nil)
        let observer: any CommitObserver = metrics.store
        observer.transactionFinished(duration: .microseconds(800), orders: 1, committed: true)
        observer.transactionFinished(duration: .milliseconds(4), orders: 37, committed: true)
        observer.transactionFinished(duration: .milliseconds(2), orders: 0, committed: true)  // outbox changes only
        observer.transactionFinished(duration: .seconds(5), orders: 3, committed: false)

        let scrape = MetricsScrape(String(decoding: metrics.scrape(), as: UTF8.self))
        #expect(scrape[#"orderd_store_commit_duration_seconds_count{result="committed"}"#] == 3)
        #expect(scrape[#"orderd_store_commit_duration_seconds_bucket{result="committed",le="0.001"}"#] == 1)
        #expect(scrape[#"orderd_store_commit_duration_seconds_count{result="failed"}"#] == 1)
        #expect(scrape["orderd_store_commit_batch_orders_count"] == 3)
        #expect(scrape["orderd_store_commit_batch_orders_sum"] == 41)
        #expect(scrape[#"orderd_store_commit_batch_orders_bucket{le="1.0"}"#] == 1)
        #expect(scrape[#"orderd_store_commit_batch_orders_bucket{le="4.0"}"#] == 2)
        #expect(scrape[#"orderd_store_commit_batch_orders_bucket{le="64.0"}"#] == 3)
    }

    @Test func checkpointsRecordTheirDurationByWhoRanThem() {
        let metrics = OrderdMetrics(sources: nil)
        let observer: any CommitObserver = metrics.store
        observer.checkpointFinished(duration: .microseconds(300), byWriter: false)
        observer.checkpointFinished(duration: .milliseconds(40), byWriter: false)
        observer.checkpointFinished(duration: .milliseconds(3), byWriter: true)

        let scrape = MetricsScrape(String(decoding: metrics.scrape(), as: UTF8.self))
        #expect(scrape[#"orderd_store_checkpoint_duration_seconds_count{by="checkpointer"}"#] == 2)
        #expect(scrape[#"orderd_store_checkpoint_duration_seconds_bucket{by="checkpointer",le="0.025"}"#] == 1)
        #expect(scrape[#"orderd_store_checkpoint_duration_seconds_count{by="writer"}"#] == 1)
        #expect(scrape[#"orderd_store_checkpoint_duration_seconds_bucket{by="writer",le="0.0025"}"#] == 0)
        #expect(scrape[#"orderd_store_checkpoint_duration_seconds_bucket{by="writer",le="0.005"}"#] == 1)
    }

    /// What the fake sources hand out; a test changes it between scrapes.
    final class FakeParts: Sendable {
        struct Figures {
            var executor = ExecutorStatistics()
            var followUps = FollowUpCounters()
            var outbox: OutboxCounts? = OutboxCounts()
            var queuedWrites = 0
            var auditQueued = 0
            var now: Int64 = 1_000_000
        }

        let figures = Mutex(Figures())

        var sources: MetricsSources {
            MetricsSources(
                executor: { self.figures.withLock { $0.executor } },
                followUps: { self.figures.withLock { $0.followUps } },
                outbox: {
                    guard let counts = self.figures.withLock({ $0.outbox }) else { throw StoreError.unavailable("closed") }
                    return counts
                },
                queuedWrites: { self.figures.withLock { $0.queuedWrites } },
                auditQueued: { self.figures.withLock { $0.auditQueued } },
                wallClock: { self.figures.withLock { $0.now } })
        }
    }

    @Test func snapshotCountersGrowWithTheSnapshotsAndGaugesAreSetAtEachScrape() {
        let parts = FakeParts()
        let metrics = OrderdMetrics(sources: parts.sources)
        parts.figures.withLock {
            $0.executor.submitted = 10
            $0.executor.completed = 7
            $0.executor.failed = 1
            $0.executor.queued = 2
            $0.executor.running = 1
            $0.executor.workers = 4
            $0.executor.idleWorkers = 3
            $0.executor.queueCapacity = 1024
            for _ in 0..<5 { $0.followUps.count(.done, kind: "sms") }
            $0.followUps.count(.retried, kind: "webhook")
            $0.followUps.dropped[.stats] = 2
            $0.outbox = OutboxCounts(pending: 3, done: 7, dead: 1, pendingByKind: ["sms": 2, "webhook": 1], oldestPendingMillis: 1_000_000 - 2_500)
            $0.queuedWrites = 6
            $0.auditQueued = 40
        }
        var scrape = MetricsScrape(String(decoding: metrics.scrape(), as: UTF8.self))
        #expect(scrape["orderd_executor_tasks_submitted_total"] == 10)
        #expect(scrape[#"orderd_executor_tasks_finished_total{outcome="completed"}"#] == 7)
        #expect(scrape[#"orderd_executor_tasks_finished_total{outcome="failed"}"#] == 1)
        #expect(scrape[#"orderd_executor_tasks_finished_total{outcome="stuck"}"#] == 0)
        #expect(scrape["orderd_executor_queued_tasks"] == 2)
        #expect(scrape["orderd_executor_running_tasks"] == 1)
        #expect(scrape["orderd_executor_workers"] == 4)
        #expect(scrape["orderd_executor_idle_workers"] == 3)
        #expect(scrape["orderd_executor_queue_capacity_tasks"] == 1024)
        #expect(scrape[#"orderd_tasks_done_total{kind="sms"}"#] == 5)
        #expect(scrape[#"orderd_tasks_done_total{kind="audit"}"#] == 0)  // made up front, for alerts
        #expect(scrape[#"orderd_tasks_retried_total{kind="webhook"}"#] == 1)
        #expect(scrape[#"orderd_tasks_dead_total{kind="sms",reason="expired"}"#] == 0)
        #expect(scrape[#"orderd_outbox_pending_by_kind_tasks{kind="webhook"}"#] == 1)
        #expect(scrape[#"orderd_tasks_dropped_total{kind="stats"}"#] == 2)
        #expect(scrape["orderd_outbox_pending_tasks"] == 3)
        #expect(scrape["orderd_outbox_dead_tasks"] == 1)
        #expect(scrape["orderd_outbox_oldest_pending_age_seconds"] == 2.5)
        #expect(scrape["orderd_store_queued_writes"] == 6)
        #expect(scrape["orderd_audit_queued_lines"] == 40)
        #expect(scrape.types["orderd_audit_queued_lines"] == "gauge")

        // Counters follow the snapshot's growth; gauges take the new values.
        parts.figures.withLock {
            $0.executor.submitted = 25
            $0.executor.completed = 24
            $0.executor.queued = 0
            $0.auditQueued = 0
            for _ in 0..<25 { $0.followUps.count(.done, kind: "sms") }
            $0.followUps.count(.dead(.rejected), kind: "sms")
            $0.followUps.count(.dead(.unreadable), kind: "unknown")
            $0.outbox = OutboxCounts(pending: 0, dead: 2, oldestPendingMillis: nil)
        }
        scrape = MetricsScrape(String(decoding: metrics.scrape(), as: UTF8.self))
        #expect(scrape["orderd_executor_tasks_submitted_total"] == 25)
        #expect(scrape[#"orderd_executor_tasks_finished_total{outcome="completed"}"#] == 24)
        #expect(scrape["orderd_executor_queued_tasks"] == 0)
        #expect(scrape["orderd_audit_queued_lines"] == 0)
        #expect(scrape[#"orderd_tasks_done_total{kind="sms"}"#] == 30)
        #expect(scrape[#"orderd_tasks_dead_total{kind="sms",reason="rejected"}"#] == 1)
        #expect(scrape[#"orderd_tasks_dead_total{kind="unknown",reason="unreadable"}"#] == 1)
        #expect(scrape[#"orderd_outbox_pending_by_kind_tasks{kind="webhook"}"#] == 0)  // gone: 0, not its last value
        #expect(scrape["orderd_outbox_pending_tasks"] == 0)
        #expect(scrape["orderd_outbox_oldest_pending_age_seconds"] == 0)
        #expect(scrape["orderd_outbox_read_errors_total"] == 0)
        #expect(scrape.types["orderd_tasks_done_total"] == "counter")
        #expect(scrape.types["orderd_tasks_dead_total"] == "counter")
        #expect(scrape.types["orderd_outbox_pending_tasks"] == "gauge")

        // An unreadable outbox: the gauges keep their values and the error is counted.
        parts.figures.withLock { $0.outbox = nil }
        scrape = MetricsScrape(String(decoding: metrics.scrape(), as: UTF8.self))
        #expect(scrape["orderd_outbox_read_errors_total"] == 1)
        #expect(scrape["orderd_outbox_dead_tasks"] == 2)
    }

    @Test func requestThreadsAndRequestsInFlight() {
        let metrics = OrderdMetrics(sources: FakeParts().sources)
        metrics.observeRequestThreads { (busy: 3, total: 4) }
        let scrape = MetricsScrape(String(decoding: metrics.scrape(), as: UTF8.self))
        #expect(scrape[#"orderd_request_threads{state="busy"}"#] == 3)
        #expect(scrape[#"orderd_request_threads{state="idle"}"#] == 1)
        #expect(scrape["orderd_http_requests_in_flight"] == 0)
    }

    @Test func theResponseIsPrometheusText() {
        let metrics = OrderdMetrics(sources: FakeParts().sources)
        metrics.requests.requestFinished(Self.record("GET", "/healthz", 200))
        let response = metrics.response()
        #expect(response.status == 200)
        #expect(response.headers.contains { $0.name == "Content-Type" && $0.value == "text/plain; version=0.0.4; charset=utf-8" })
        let scrape = MetricsScrape(String(decoding: response.body, as: UTF8.self))
        #expect(scrape.problems.isEmpty, "\(scrape.problems)")
        // Every family has its TYPE line and its HELP text, once.
        #expect(!scrape.types.isEmpty)
        for (family, _) in scrape.types { #expect(scrape.help[family]?.isEmpty == false, "\(family) has no HELP") }
        #expect(scrape.values.keys.allSatisfy { $0.hasPrefix("orderd_") })
    }

    @Test func instancesInOneProcessAreIndependent() {
        let first = OrderdMetrics(sources: nil)
        let second = OrderdMetrics(sources: nil)
        first.requests.requestFinished(Self.record("GET", "/healthz", 200))
        first.requests.requestFinished(Self.record("GET", "/healthz", 200))
        second.requests.requestFinished(Self.record("GET", "/healthz", 200))
        let key = #"orderd_http_requests_total{method="GET",route="/healthz",status="200"}"#
        #expect(MetricsScrape(String(decoding: first.scrape(), as: UTF8.self))[key] == 2)
        #expect(MetricsScrape(String(decoding: second.scrape(), as: UTF8.self))[key] == 1)
    }

    @Test func codeUsingTheSwiftMetricsAPIReportsIntoTheSameRegistry() {
        let metrics = OrderdMetrics(sources: nil)
        let counter = CoreMetrics.Counter(label: "orderd_example_total", dimensions: [("kind", "sms")], factory: metrics.factory)
        counter.increment(by: 3)
        let scrape = MetricsScrape(String(decoding: metrics.scrape(), as: UTF8.self))
        #expect(scrape[#"orderd_example_total{kind="sms"}"#] == 3)
    }

    @Test func theHooksAreWiredToARealStoreAndFollowUps() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let store = try SQLiteOrderStore(
                settings: StoreSettings(configuration), outbox: FollowUps.insertion(for: configuration, owner: "metrics-test"))
            defer { store.close() }
            let followUps = FollowUps(
                configuration: configuration, owner: "metrics-test", outbox: store, handlers: [:],
                logger: .init(label: "test"))
            let auditLog = try AuditLog(path: directory + "/audit.log")
            defer { auditLog.close() }
            let metrics = OrderdMetrics.live(
                followUps: followUps, store: store, auditLog: auditLog, logger: .init(label: "test"))
            let orders = try (1...3).map { try store.create(.sample($0), idempotency: nil, deadline: .inSeconds(10)).order }
            // The writer reports a transaction after answering it: a later blocking call on the writer makes
            // sure the orders' transactions were reported.
            _ = try store.claimDue(owner: "flush", limit: 1, nowMillis: 0, leaseUntilMillis: 0)
            followUps.settler.settleBestEffort(.stats, order: orders[0], .completed(duration: .milliseconds(1)))
            let scrape = MetricsScrape(String(decoding: metrics.scrape(), as: UTF8.self))
            #expect(scrape["orderd_store_commit_batch_orders_sum"] == 3)
            #expect((scrape[#"orderd_store_commit_duration_seconds_count{result="committed"}"#] ?? 0) >= 1)
            #expect(scrape[#"orderd_task_duration_seconds_count{kind="stats",outcome="completed"}"#] == 1)
            #expect(scrape["orderd_tasks_best_effort_done_total"] == 1)
            // Every new order got its sms and audit task, not started here.
            #expect(scrape["orderd_outbox_pending_tasks"] == 6)
            // The store reports its writer's queue without the metrics knowing which store it is.
            #expect(scrape["orderd_store_queued_writes"] == 0)
            // The audit file's queue is read from the audit log itself; nothing was queued to it here.
            #expect(scrape["orderd_audit_queued_lines"] == 0)
        }
    }
}
