import Testing
import TestSupport
// @testable: these tests read internals: OrderdServer (HealthMonitor, seconds, zero).
@testable import OrderdServer

/// When orderd stops feeding the systemd watchdog.
@Suite struct HealthMonitorTests {
    static let start = ContinuousClock.now

    static func progress(heartbeatsAgo: Duration, executorAgo: Duration) -> HealthMonitor.Progress {
        HealthMonitor.Progress(heartbeats: 1, heartbeatsAt: start - heartbeatsAgo, executorDone: 1, executorDoneAt: start - executorAgo)
    }

    @Test func movingPartsAreHealthy() {
        #expect(HealthMonitor.stall(Self.progress(heartbeatsAgo: .seconds(1), executorAgo: .seconds(1)), now: Self.start, requestTimeout: .seconds(30), queued: 5) == nil)
        // Every thread busy with a slow request, but within request_timeout: not a stall yet.
        #expect(HealthMonitor.stall(Self.progress(heartbeatsAgo: .seconds(34), executorAgo: .zero), now: Self.start, requestTimeout: .seconds(30), queued: 0) == nil)
    }

    @Test func requestThreadsStandingStillPastTheirAllowance() {
        let stall = HealthMonitor.stall(Self.progress(heartbeatsAgo: .seconds(36), executorAgo: .zero), now: Self.start, requestTimeout: .seconds(30), queued: 0)
        #expect(stall?.hasPrefix("request threads") == true)
    }

    @Test func executorWithWorkButNoFinishedTask() {
        let stall = HealthMonitor.stall(Self.progress(heartbeatsAgo: .zero, executorAgo: .seconds(61)), now: Self.start, requestTimeout: .seconds(30), queued: 7)
        #expect(stall == "executor: 7 tasks queued and none finished for 61.0 seconds")
    }
}
