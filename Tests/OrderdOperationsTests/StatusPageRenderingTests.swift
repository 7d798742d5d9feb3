import OrderdExecutor
import OrderdFollowUps
// @testable: these tests read internals: OrderdOperations (RequestCounts, Sparkline, StatusFormat, StatusHistory,
//  StatusSample, …).
@testable import OrderdOperations
import OrderdStore
import Testing
import TestSupport

/// The page's rendering on its own, without a process: escaping and the bounded history.
@Suite struct StatusPageRenderingTests {
    static func snapshot(history: [StatusSample] = []) -> StatusSnapshot {
        var executor = ExecutorStatistics()
        executor.workers = 4
        executor.queueCapacity = 1024
        var tasks = FollowUpCounters()
        tasks.dead = 2
        return StatusSnapshot(
            version: "0.1.0<b>", nowMillis: 1_800_000_300_000, startedAtMillis: 1_800_000_000_000,
            configPath: #"/etc/orderd/<script>alert("x")</script>&'.ini"#, configDigest: "0123456789abcdef",
            configLoadedAtMillis: 1_800_000_000_000, logLevel: "info", logFormat: "logfmt", requestWorkers: 16,
            requests: RequestCounts(finished: 10, clientErrors: 1, serverErrors: 0, ordersCreated: 7),
            executor: executor, tasks: tasks, outbox: OutboxCounts(pending: 1, dead: 2, oldestPendingMillis: 1_800_000_200_000),
            history: history, sampleInterval: .seconds(5), historyCapacity: 60)
    }

    @Test func escapesEveryValue() {
        let html = String(decoding: StatusPage.html(Self.snapshot()), as: UTF8.self)
        #expect(!html.contains("<script"))
        #expect(!html.contains("0.1.0<b>"))
        #expect(html.contains("/etc/orderd/&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;.ini"))
        #expect(html.contains(#"data-key="outbox.oldest_pending_age_seconds" class="notable">100<small>s · 1 min 40 s</small>"#))
        #expect(html.contains(#"data-key="tasks.dead" class="alarming">2<"#))
        #expect(html.contains("collecting samples"))
    }

    @Test func historyKeepsTheLastSamplesOldestFirst() {
        var history = StatusHistory(capacity: 3)
        func sample(_ n: Int) -> StatusSample {
            StatusSample(atMillis: Int64(n), ordersCreated: n, ordersPerSecond: nil, executorQueued: 0, outboxPending: 0, oldestPendingAgeSeconds: nil)
        }
        for n in 1...2 { history.append(sample(n)) }
        #expect(history.samples.map(\.ordersCreated) == [1, 2])
        for n in 3...7 { history.append(sample(n)) }
        #expect(history.samples.map(\.ordersCreated) == [5, 6, 7])
    }

    @Test func chartsLeaveGapsAndScaleToRoundNumbers() {
        let samples = [0, 1, 2, 3].map { n in
            StatusSample(
                atMillis: 1_800_000_300_000 - Int64(15 - 5 * n) * 1000, ordersCreated: n, ordersPerSecond: n == 0 ? nil : 2.5 * Double(n),
                executorQueued: n, outboxPending: n == 2 ? nil : 0, oldestPendingAgeSeconds: nil)
        }
        let html = String(decoding: StatusPage.html(Self.snapshot(history: samples)), as: UTF8.self)
        #expect(html.contains(">10</text>"), "7.5 orders/s at most: a scale of 10")
        #expect(Sparkline.scaleMaximum(0.3, minimum: 0.1) == 0.5)
        #expect(Sparkline.scaleMaximum(130, minimum: 4) == 200)
        #expect(Sparkline.scaleMaximum(0, minimum: 4) == 4)
        let fullQueue = Sparkline(
            points: [(10, 900), (5, nil), (0, 1024)], window: 300, color: "#000", label: "queue",
            format: { StatusFormat.decimal($0, places: 0) })
        #expect(fullQueue.svg(minimumScale: 4, ceiling: 1024).contains(">1024</text>"), "the capacity, not 2000, tops a full queue")
        #expect(fullQueue.svg(minimumScale: 4).contains(">2000</text>"))
        #expect(fullQueue.svg(minimumScale: 4).components(separatedBy: "<circle").count == 3, "a gap: two single points, as dots")
        #expect(StatusFormat.decimal(2.345, places: 1) == "2.3")
        #expect(StatusFormat.decimal(0.05, places: 1) == "0.1")
        #expect(StatusFormat.decimal(-1.25, places: 2) == "-1.25")
        #expect(StatusFormat.duration(seconds: 185) == "3 min 05 s")
    }
}
