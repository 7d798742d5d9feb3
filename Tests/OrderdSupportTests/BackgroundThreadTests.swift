import OrderdSupport
import Synchronization
import Testing

/// A latch the test thread waits on for the background thread to reach a point; the waits have no deadline
/// that decides an outcome, only one that keeps a broken build from hanging the suite.
private final class Latch: Sendable {
    private let mutex = PThreadMutex()
    private let count = Atomic(0)

    func signal() {
        mutex.withLock {
            count.add(1, ordering: .relaxed)
            mutex.broadcast()
        }
    }

    /// Waits until `signal()` was called `times` times in all; false if that took a whole minute.
    func wait(for times: Int = 1) -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        return mutex.withLock {
            while count.load(ordering: .relaxed) < times {
                if !mutex.wait(until: deadline) { return count.load(ordering: .relaxed) >= times }
            }
            return true
        }
    }

    var value: Int { count.load(ordering: .relaxed) }
}

@Suite struct BackgroundThreadTests {
    @Test func wakeRunsARoundBeforeTheDeadline() throws {
        let thread = BackgroundThread(name: "test-wake")
        let waiting = Latch()
        let rounds = Latch()
        // A deadline no test run reaches: only the wake can end the first wait.
        let farAway = ContinuousClock.now + .seconds(3600)
        try thread.start { context in
            waiting.signal()
            while context.wait(until: farAway) {
                rounds.signal()
                waiting.signal()
            }
        }
        #expect(waiting.wait(for: 1))
        thread.wake()
        #expect(rounds.wait(for: 1))
        thread.stop()
        #expect(rounds.value == 1)
    }

    @Test func aWakeWhileNoOneWaitsIsNotLost() throws {
        let thread = BackgroundThread(name: "test-early-wake")
        let woken = Latch()
        let proceed = Latch()
        let rounds = Latch()
        try thread.start { context in
            woken.signal()
            _ = proceed.wait()  // the wake below lands while this thread is busy, not waiting
            while context.wait(until: nil) { rounds.signal() }
        }
        #expect(woken.wait())
        thread.wake()
        proceed.signal()
        #expect(rounds.wait(for: 1))
        thread.stop()
    }

    @Test func wakeIfIdleWakesABodyThatSaidItWasIdle() throws {
        let thread = BackgroundThread(name: "test-idle")
        let busy = Latch()
        let proceed = Latch()
        let idle = Latch()
        let rounds = Latch()
        try thread.start { context in
            busy.signal()
            _ = proceed.wait()
            context.becomeIdle()
            idle.signal()
            // No deadline: only wakeIfIdle (or the stop) ends this.
            while context.wait(until: nil) {
                rounds.signal()
                context.becomeIdle()
            }
        }
        #expect(busy.wait())
        #expect(!thread.isIdle)  // not raised yet: a wakeIfIdle now finds nothing to wake
        thread.wakeIfIdle()
        proceed.signal()
        #expect(idle.wait())
        #expect(thread.isIdle)
        thread.wakeIfIdle()
        #expect(rounds.wait(for: 1))
        thread.stop()
        #expect(!thread.isIdle)  // an ended body waits for nothing
    }

    @Test func stopWakesAWaitingThreadAndJoins() throws {
        let thread = BackgroundThread(name: "test-stop")
        let waiting = Latch()
        let ended = Atomic(false)
        let sawStop = Atomic(false)
        try thread.start { context in
            waiting.signal()
            let wokeForRound = context.wait(until: nil)  // no deadline: only stop() can end this
            sawStop.store(!wokeForRound && context.isStopping, ordering: .relaxed)
            ended.store(true, ordering: .relaxed)
        }
        #expect(waiting.wait())
        thread.stop()
        let (hasEnded, stopSeen) = (ended.load(ordering: .relaxed), sawStop.load(ordering: .relaxed))
        #expect(hasEnded)
        #expect(stopSeen)
    }

    @Test func aRoundInProgressFinishesBeforeStopReturns() throws {
        let thread = BackgroundThread(name: "test-round")
        let inRound = Latch()
        let finished = Atomic(false)
        try thread.start { context in
            inRound.signal()
            // Busy until stop was asked, so the stop below surely lands mid-round.
            while !context.isStopping {}
            finished.store(true, ordering: .relaxed)
            _ = context.wait(until: nil)
        }
        #expect(inRound.wait())
        thread.stop()
        let roundFinished = finished.load(ordering: .relaxed)
        #expect(roundFinished)
    }

    @Test func stopIsIdempotentAndANoOpWhenNeverStarted() throws {
        let never = BackgroundThread(name: "test-never")
        never.stop()
        never.stop()

        let thread = BackgroundThread(name: "test-twice")
        let ran = Latch()
        try thread.start { context in
            ran.signal()
            while context.wait(until: nil) {}
        }
        #expect(ran.wait())
        thread.stop()
        thread.stop()
        #expect(ran.value == 1)
    }

    @Test func startAfterStopRunsNothing() throws {
        let thread = BackgroundThread(name: "test-stopped")
        thread.stop()
        let ran = Atomic(false)
        try thread.start { _ in ran.store(true, ordering: .relaxed) }
        thread.stop()
        let bodyRan = ran.load(ordering: .relaxed)
        #expect(!bodyRan)
    }

    @Test func theLifecycleStopsInReverseOrder() throws {
        let order = Mutex<[String]>([])
        var lifecycle = ServiceLifecycle()
        for name in ["first", "second", "third"] {
            lifecycle.started(name, stopBudget: { .seconds(60) }) { _ in
                order.withLock { $0.append(name) }
                return name != "second"
            }
        }
        let reports = lifecycle.stopAll { _ in }
        let stopped = order.withLock { $0 }
        #expect(stopped == ["third", "second", "first"])
        #expect(reports.map(\.name) == ["third", "second", "first"])
        #expect(reports.map(\.finished) == [true, false, true])
        #expect(!reports[1].metDeadline)
        #expect(lifecycle.stopAll { _ in }.isEmpty)
    }
}
