import Foundation
import Logging
import Testing

import OrderdExecutor

/// The bounded executor: every task once, the worker bound, a full queue, deadlines with real cancellation,
/// stuck tasks, stop, and waiting for capacity. Serialized: several tests measure how promptly things happen.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ExecutorTests {
    @Test func runsEveryAcceptedTaskExactlyOnce() async {
        let executor = makeExecutor(workers: 4, capacity: 10_000)
        let outcomes = Outcomes()
        let runs = Locked([Int](repeating: 0, count: 5_000))
        executor.start()
        for id in 0..<5_000 {
            let accepted = executor.trySubmit(
                Probe(id: id, outcomes: outcomes) {
                    runs.withLock { $0[id] += 1 }
                })
            #expect(accepted)
        }
        #expect(await outcomes.waitForCount(5_000))
        let report = await stopOnThread(executor)

        #expect(runs.withLock { $0 } == [Int](repeating: 1, count: 5_000))
        #expect(outcomes.ids == Set(0..<5_000))
        #expect(outcomes.all.allSatisfy { $0.value.map(\.label) == ["completed"] })
        let statistics = executor.statistics
        #expect(statistics.submitted == 5_000)
        #expect(statistics.completed == 5_000)
        #expect(statistics.rejected == 0)
        #expect(statistics.running == 0 && statistics.queued == 0)
        #expect(report == ExecutorStopReport(drained: true, cancelled: 0, notStarted: 0, stuck: 0))
    }

    @Test func neverRunsMoreThanWorkersAtOnce() async {
        let executor = makeExecutor(workers: 3, capacity: 1_000)
        let outcomes = Outcomes()
        let concurrency = Locked((current: 0, highest: 0))
        executor.start()
        for id in 0..<300 {
            let accepted = executor.trySubmit(
                Probe(id: id, outcomes: outcomes) {
                    concurrency.withLock {
                        $0.current += 1
                        $0.highest = max($0.highest, $0.current)
                    }
                    try await Task.sleep(for: .milliseconds(1))
                    concurrency.withLock { $0.current -= 1 }
                })
            #expect(accepted)
            #expect(executor.statistics.running <= 3)
        }
        #expect(await outcomes.waitForCount(300))
        _ = await stopOnThread(executor)
        #expect(concurrency.withLock { $0.highest } == 3)
        #expect(executor.statistics.completed == 300)
    }

    @Test func burstReachesEveryIdleWorker() async {
        // A burst right after a task ends: one worker is searching, the others parked. Each burst task waits until
        // all four run at once, so a burst left in the queue behind a busy worker fails.
        let executor = makeExecutor(workers: 4, capacity: 64)
        let outcomes = Outcomes()
        executor.start()
        for round in 0..<20 {
            let base = round * 10
            #expect(executor.trySubmit(Probe(id: base, outcomes: outcomes) {}))
            let arrived = Locked(0)
            for id in (base + 1)...(base + 4) {
                let accepted = executor.trySubmit(
                    Probe(id: id, outcomes: outcomes) {
                        arrived.withLock { $0 += 1 }
                        guard await pollUntil(within: .seconds(5), { arrived.withLock { $0 } == 4 }) else {
                            throw ProbeError.noRendezvous
                        }
                    })
                #expect(accepted)
            }
            #expect(await outcomes.waitForCount(base / 2 + 5))
            let labels = (base...(base + 4)).flatMap { outcomes.outcomes(of: $0).map(\.label) }
            guard labels == Array(repeating: "completed", count: 5) else {
                Issue.record("round \(round): \(labels)")
                break
            }
            try? await Task.sleep(for: .milliseconds(round % 3))
        }
        _ = await stopOnThread(executor)
        #expect(outcomes.all.allSatisfy { $0.value.map(\.label) == ["completed"] })
        #expect(executor.statistics.completed == 100)
    }

    @Test func mixedOutcomesEachFinishExactlyOnce() async {
        let executor = makeExecutor(workers: 4, capacity: 1_000)
        let outcomes = Outcomes()
        executor.start()
        for id in 0..<400 {
            let accepted = executor.trySubmit(
                Probe(id: id, timeout: .milliseconds(15), outcomes: outcomes) {
                    switch id % 4 {
                    case 0: return
                    case 1: throw ProbeError.boom
                    case 2: try await Task.sleep(for: .milliseconds(id % 30))
                    default: try await Task.sleep(for: .seconds(10))
                    }
                })
            #expect(accepted)
        }
        #expect(await outcomes.waitForCount(400))
        let report = await stopOnThread(executor)
        #expect(report.drained)
        let all = outcomes.all
        #expect(all.count == 400)
        #expect(all.values.allSatisfy { $0.count == 1 }, "one finished call per task")
        for (id, outcome) in all {
            let label = outcome.first?.label
            switch id % 4 {
            case 0: #expect(label == "completed" || label == "timedOut", "\(id): \(String(describing: label))")
            case 1: #expect(label == "failed" || label == "timedOut", "\(id): \(String(describing: label))")
            case 2: #expect(label == "completed" || label == "timedOut", "\(id): \(String(describing: label))")
            default: #expect(label == "timedOut", "\(id): \(String(describing: label))")
            }
        }
        let statistics = executor.statistics
        let labels = all.values.compactMap { $0.first?.label }
        #expect(statistics.completed == labels.filter { $0 == "completed" }.count)
        #expect(statistics.failed == labels.filter { $0 == "failed" }.count)
        #expect(statistics.timedOut == labels.filter { $0 == "timedOut" }.count)
        #expect(statistics.completed + statistics.failed + statistics.timedOut == 400)
        #expect(statistics.stuck == 0)
    }

    @Test func rejectsWhenTheQueueIsFullWithoutCallingFinished() async {
        let executor = makeExecutor(workers: 2, capacity: 3)
        let outcomes = Outcomes()
        let gate = Gate()
        executor.start()
        for id in 0..<2 {
            #expect(executor.trySubmit(Probe(id: id, outcomes: outcomes) { await gate.wait() }))
        }
        #expect(await pollUntil { executor.statistics.running == 2 })
        for id in 2..<5 {
            #expect(executor.trySubmit(Probe(id: id, outcomes: outcomes) {}))
        }
        #expect(executor.freeCapacity == 0)
        #expect(!executor.trySubmit(Probe(id: 99, outcomes: outcomes) {}))
        var statistics = executor.statistics
        #expect(statistics.rejected == 1)
        #expect(statistics.submitted == 5)
        #expect(statistics.queued == 3)
        #expect(statistics.running == 2)

        gate.open()
        #expect(await outcomes.waitForCount(5))
        #expect(executor.freeCapacity == 3)
        let report = await stopOnThread(executor)
        #expect(report.drained)
        #expect(!executor.trySubmit(Probe(id: 100, outcomes: outcomes) {}), "a stopped executor accepts nothing")
        statistics = executor.statistics
        #expect(statistics.rejected == 2)
        #expect(statistics.completed == 5)
        #expect(outcomes.outcomes(of: 99).isEmpty)
        #expect(outcomes.outcomes(of: 100).isEmpty)
    }

    @Test func taskPastItsTimeoutIsCancelledAndItsWorkerReplaced() async {
        let executor = makeExecutor(workers: 2, capacity: 16)
        let outcomes = Outcomes()
        executor.start()
        // How each 20 s sleep ended: thrown by its cancellation, or run out (a deadline not acted on).
        let sleepsCancelled = Locked(0)
        for id in 0..<2 {
            let accepted = executor.trySubmit(
                Probe(id: id, timeout: .milliseconds(100), outcomes: outcomes) {
                    do {
                        try await Task.sleep(for: .seconds(20))
                    } catch is CancellationError {
                        sleepsCancelled.withLock { $0 += 1 }
                        throw CancellationError()
                    }
                })
            #expect(accepted)
        }
        // Queued behind the two: runs on the replacement workers and must not see the cancellation.
        let sawCancellation = Locked(false)
        #expect(
            executor.trySubmit(
                Probe(id: 2, outcomes: outcomes) {
                    if Task.isCancelled { sawCancellation.withLock { $0 = true } }
                    try await Task.sleep(for: .milliseconds(20))
                }))
        #expect(await outcomes.waitForCount(3))
        for id in 0..<2 {
            let outcome = outcomes.outcomes(of: id)
            #expect(outcome.map(\.label) == ["timedOut"])
            if case .timedOut(let duration) = outcome.first {
                #expect(duration >= .milliseconds(100))
            }
        }
        #expect(outcomes.outcomes(of: 2).map(\.label) == ["completed"])
        #expect(!sawCancellation.withLock { $0 })
        #expect(sleepsCancelled.withLock { $0 } == 2, "both sleeps cancelled, neither ran its 20 s")

        // Full parallelism afterwards: two tasks that each wait until both are running.
        let arrived = Locked(0)
        for id in 10..<12 {
            let accepted = executor.trySubmit(
                Probe(id: id, outcomes: outcomes) {
                    arrived.withLock { $0 += 1 }
                    guard await pollUntil(within: .seconds(5), { arrived.withLock { $0 } == 2 }) else {
                        throw ProbeError.noRendezvous
                    }
                })
            #expect(accepted)
        }
        #expect(await outcomes.waitForCount(5))
        #expect(outcomes.outcomes(of: 10).map(\.label) == ["completed"])
        #expect(outcomes.outcomes(of: 11).map(\.label) == ["completed"])
        _ = await stopOnThread(executor)
        let statistics = executor.statistics
        #expect(statistics.timedOut == 2)
        #expect(statistics.completed == 3)
    }

    @Test func taskIgnoringCancellationIsStuckAndDoesNotHoldItsWorker() async {
        let executor = makeExecutor(workers: 1, capacity: 16, stuckGrace: .milliseconds(200))
        let outcomes = Outcomes()
        let gate = Gate()
        let returned = Locked(false)
        executor.start()
        let submitted = ContinuousClock.now
        #expect(
            executor.trySubmit(
                Probe(id: 1, timeout: .milliseconds(100), outcomes: outcomes) {
                    await gate.wait()  // not cancellable
                    returned.withLock { $0 = true }
                }))
        #expect(executor.trySubmit(Probe(id: 2, outcomes: outcomes) {}))
        #expect(await outcomes.waitForCount(1))
        let elapsed = submitted.duration(to: .now)
        let outcome = outcomes.outcomes(of: 1)
        #expect(outcome.map(\.label) == ["stuck"])
        // Reported while its gate is still closed (asserted below): not after it returned. Never before timeout + grace.
        #expect(elapsed >= .milliseconds(300), "timeout + grace: \(elapsed)")
        if case .stuck(let duration) = outcome.first {
            #expect(duration >= .milliseconds(300))
        }
        // The only worker was given up and replaced: the next task runs while the stuck one still waits.
        #expect(await outcomes.waitForCount(2))
        #expect(outcomes.outcomes(of: 2).map(\.label) == ["completed"])
        #expect(!returned.withLock { $0 })
        #expect(executor.statistics.abandonedWorkers == 1)

        gate.open()
        #expect(await pollUntil { executor.statistics.abandonedWorkers == 0 })
        #expect(returned.withLock { $0 })
        #expect(outcomes.outcomes(of: 1).count == 1, "what a stuck task does later is ignored")
        let report = await stopOnThread(executor)
        #expect(report == ExecutorStopReport(drained: true, cancelled: 0, notStarted: 0, stuck: 0))
        #expect(executor.statistics.stuck == 1)
    }

    @Test func abandonedWorkersAreCappedAtTheWorkerCount() async {
        let executor = makeExecutor(workers: 1, capacity: 16, stuckGrace: .milliseconds(100))
        let outcomes = Outcomes()
        let gates = [Gate(), Gate()]
        executor.start()
        for id in 0..<2 {
            let gate = gates[id]
            #expect(
                executor.trySubmit(
                    Probe(id: id, timeout: .milliseconds(50), outcomes: outcomes) { await gate.wait() }))
        }
        #expect(executor.trySubmit(Probe(id: 2, outcomes: outcomes) {}))
        #expect(await outcomes.waitForCount(2))
        #expect(outcomes.outcomes(of: 0).map(\.label) == ["stuck"])
        #expect(outcomes.outcomes(of: 1).map(\.label) == ["stuck"])
        // Two abandoned workers alive with one allowed: the slot stays empty, the third task waits.
        try? await Task.sleep(for: .milliseconds(300))
        var statistics = executor.statistics
        #expect(statistics.abandonedWorkers == 2)
        #expect(statistics.queued == 1)
        #expect(outcomes.outcomes(of: 2).isEmpty)

        gates[0].open()
        #expect(await outcomes.waitForCount(3))
        #expect(outcomes.outcomes(of: 2).map(\.label) == ["completed"])
        gates[1].open()
        #expect(await pollUntil { executor.statistics.abandonedWorkers == 0 })
        _ = await stopOnThread(executor)
        statistics = executor.statistics
        #expect(statistics.stuck == 2)
        #expect(statistics.completed == 1)
    }

    @Test func stopDrainsQueuedTasksBeforeTheDeadline() async {
        let executor = makeExecutor(workers: 2, capacity: 64)
        let outcomes = Outcomes()
        executor.start()
        for id in 0..<20 {
            #expect(
                executor.trySubmit(
                    Probe(id: id, outcomes: outcomes) { try await Task.sleep(for: .milliseconds(10)) }))
        }
        let report = await stopOnThread(executor, deadline: .seconds(20))
        // drained: every task finished before the deadline.
        #expect(report == ExecutorStopReport(drained: true, cancelled: 0, notStarted: 0, stuck: 0))
        #expect(outcomes.count == 20, "stop returns after every finished call")
        #expect(outcomes.all.allSatisfy { $0.value.map(\.label) == ["completed"] })
        #expect(await stopOnThread(executor) == report, "a second stop returns the same report")
        #expect(!executor.trySubmit(Probe(id: 99, outcomes: outcomes) {}))
    }

    @Test func stopCancelsRunningTasksAndDropsQueuedOnes() async {
        // A grace far longer than any machine takes to cancel two sleeps: a stop that waited it out instead of
        // returning once they returned is told apart by a margin no busy machine comes near.
        let executor = makeExecutor(workers: 2, capacity: 16, stuckGrace: .seconds(120))
        let outcomes = Outcomes()
        executor.start()
        for id in 0..<2 {
            #expect(
                executor.trySubmit(
                    Probe(id: id, outcomes: outcomes) { try await Task.sleep(for: .seconds(300)) }))
        }
        #expect(await pollUntil { executor.statistics.running == 2 })
        for id in 2..<5 {
            #expect(executor.trySubmit(Probe(id: id, outcomes: outcomes) {}))
        }
        let started = ContinuousClock.now
        let report = await stopOnThread(executor, deadline: .milliseconds(200))
        let elapsed = started.duration(to: .now)
        #expect(report == ExecutorStopReport(drained: false, cancelled: 2, notStarted: 3, stuck: 0))
        #expect(elapsed >= .milliseconds(190), "\(elapsed)")
        #expect(elapsed < .seconds(60), "cancelled tasks returned at once; no wait for the 120 s grace: \(elapsed)")
        #expect(outcomes.count == 5)
        for id in 0..<2 { #expect(outcomes.outcomes(of: id).map(\.label) == ["cancelledAtStop"]) }
        for id in 2..<5 { #expect(outcomes.outcomes(of: id).map(\.label) == ["notStarted"]) }
        let statistics = executor.statistics
        #expect(statistics.cancelledAtStop == 2)
        #expect(statistics.notStarted == 3)
    }

    @Test func stopGivesUpATaskIgnoringCancellationAfterTheGrace() async {
        let executor = makeExecutor(workers: 2, capacity: 16, stuckGrace: .milliseconds(500))
        let outcomes = Outcomes()
        let gate = Gate()
        executor.start()
        #expect(executor.trySubmit(Probe(id: 0, outcomes: outcomes) { try await Task.sleep(for: .seconds(30)) }))
        #expect(executor.trySubmit(Probe(id: 1, outcomes: outcomes) { await gate.wait() }))
        #expect(await pollUntil { executor.statistics.running == 2 })
        for id in 2..<5 {
            #expect(executor.trySubmit(Probe(id: id, outcomes: outcomes) {}))
        }
        let started = ContinuousClock.now
        let report = await stopOnThread(executor, deadline: .milliseconds(200))
        let elapsed = started.duration(to: .now)
        #expect(report == ExecutorStopReport(drained: false, cancelled: 1, notStarted: 3, stuck: 1))
        // The stop returned while task 1 still waits on its closed gate: it gave the task up, never before the
        // deadline and the grace.
        #expect(elapsed >= .milliseconds(690), "deadline + grace: \(elapsed)")
        #expect(outcomes.outcomes(of: 0).map(\.label) == ["cancelledAtStop"])
        #expect(outcomes.outcomes(of: 1).map(\.label) == ["stuck"])
        for id in 2..<5 { #expect(outcomes.outcomes(of: id).map(\.label) == ["notStarted"]) }
        gate.open()
        #expect(await pollUntil { executor.statistics.abandonedWorkers == 0 })
        #expect(outcomes.count == 5)
    }

    @Test func waitForCapacityWakesWhenASlotFrees() async {
        let executor = makeExecutor(workers: 1, capacity: 2)
        let outcomes = Outcomes()
        let gate = Gate()
        executor.start()
        #expect(executor.trySubmit(Probe(id: 0, outcomes: outcomes) { await gate.wait() }))
        #expect(await pollUntil { executor.statistics.running == 1 })
        #expect(executor.trySubmit(Probe(id: 1, outcomes: outcomes) {}))
        #expect(executor.trySubmit(Probe(id: 2, outcomes: outcomes) {}))
        #expect(executor.freeCapacity == 0)

        // Nothing frees: returns at the deadline with what is free.
        let timedOut = await onThread { () -> (Int, Duration) in
            let start = ContinuousClock.now
            let free = executor.waitForCapacity(atLeast: 1, until: .now + .milliseconds(100))
            return (free, start.duration(to: .now))
        }
        #expect(timedOut.0 == 0)
        #expect(timedOut.1 >= .milliseconds(95))
        // Already free enough: returns at once.
        #expect(executor.waitForCapacity(atLeast: 0, until: .now + .seconds(10)) == 0)

        let waiter = Task {
            await onThread { () -> (Int, Duration) in
                let start = ContinuousClock.now
                let free = executor.waitForCapacity(atLeast: 1, until: .now + .seconds(120))
                return (free, start.duration(to: .now))
            }
        }
        try? await Task.sleep(for: .milliseconds(100))
        gate.open()
        let (free, waited) = await waiter.value
        #expect(free >= 1)
        #expect(waited >= .milliseconds(90), "it did wait: \(waited)")
        // A deadline far beyond what any machine takes to run two tasks: woken by the freed slot, not by it.
        #expect(waited < .seconds(60), "woken by the freed slot, not the 120 s deadline: \(waited)")
        #expect(await outcomes.waitForCount(3))
        _ = await stopOnThread(executor)
    }

    @Test func throwingTaskEndsFailedWithItsError() async {
        let executor = makeExecutor(workers: 2, capacity: 4)
        let outcomes = Outcomes()
        executor.start()
        #expect(executor.trySubmit(Probe(id: 1, outcomes: outcomes) { throw ProbeError.boom }))
        #expect(await outcomes.waitForCount(1))
        let outcome = outcomes.outcomes(of: 1)
        #expect(outcome.map(\.label) == ["failed"])
        if case .failed(let error, _) = outcome.first {
            #expect(error as? ProbeError == .boom)
        }
        _ = await stopOnThread(executor)
        #expect(executor.statistics.failed == 1)
        #expect(executor.statistics.completed == 0)
    }

    // Batches. One worker and tasks queued before `start`: the worker takes the first alone, then (every task counting
    // as short) the rest as one batch, so the cases below run inside a batch.

    @Test func batchTaskPastItsTimeoutLeavesTheRestOfItsBatchToTheReplacement() async {
        let executor = makeExecutor(workers: 1, capacity: 64, batchAfterTaskUnder: .seconds(1))
        let outcomes = Outcomes()
        let runs = Locked([Int](repeating: 0, count: 10))
        let sawCancellation = Locked(false)
        for id in 0..<10 {
            let accepted = executor.trySubmit(
                Probe(id: id, timeout: id == 2 ? .milliseconds(100) : .seconds(30), outcomes: outcomes) {
                    runs.withLock { $0[id] += 1 }
                    if id == 2 {
                        try await Task.sleep(for: .seconds(20))
                    } else if Task.isCancelled {
                        sawCancellation.withLock { $0 = true }
                    }
                })
            #expect(accepted)
        }
        executor.start()
        #expect(await outcomes.waitForCount(10))
        let report = await stopOnThread(executor)
        #expect(runs.withLock { $0 } == [Int](repeating: 1, count: 10))
        #expect(outcomes.all.values.allSatisfy { $0.count == 1 }, "one finished call per task")
        #expect(outcomes.outcomes(of: 2).map(\.label) == ["timedOut"])
        for id in 0..<10 where id != 2 {
            #expect(outcomes.outcomes(of: id).map(\.label) == ["completed"], "\(id)")
        }
        #expect(!sawCancellation.withLock { $0 }, "the rest ran on a fresh worker, not the cancelled one")
        #expect(report == ExecutorStopReport(drained: true, cancelled: 0, notStarted: 0, stuck: 0))
        let statistics = executor.statistics
        #expect(statistics.timedOut == 1)
        #expect(statistics.completed == 9)
        #expect(statistics.queued == 0 && statistics.running == 0)
    }

    @Test func stuckBatchTaskLeavesTheRestOfItsBatchToTheReplacement() async {
        let executor = makeExecutor(
            workers: 1, capacity: 64, stuckGrace: .milliseconds(200), batchAfterTaskUnder: .seconds(1))
        let outcomes = Outcomes()
        let gate = Gate()
        let returned = Locked(false)
        let runs = Locked([Int](repeating: 0, count: 8))
        for id in 0..<8 {
            let accepted = executor.trySubmit(
                Probe(id: id, timeout: id == 2 ? .milliseconds(100) : .seconds(30), outcomes: outcomes) {
                    runs.withLock { $0[id] += 1 }
                    if id == 2 {
                        await gate.wait()  // not cancellable
                        returned.withLock { $0 = true }
                    }
                })
            #expect(accepted)
        }
        executor.start()
        #expect(await outcomes.waitForCount(8))
        #expect(outcomes.outcomes(of: 2).map(\.label) == ["stuck"])
        for id in 0..<8 where id != 2 {
            #expect(outcomes.outcomes(of: id).map(\.label) == ["completed"], "\(id)")
        }
        // The rest of the batch ran while the stuck task still waits.
        #expect(!returned.withLock { $0 })
        #expect(runs.withLock { $0 } == [Int](repeating: 1, count: 8))
        #expect(executor.statistics.abandonedWorkers == 1)

        gate.open()
        #expect(await pollUntil { executor.statistics.abandonedWorkers == 0 })
        #expect(returned.withLock { $0 })
        #expect(outcomes.count == 8, "what a stuck task does later is ignored")
        let report = await stopOnThread(executor)
        #expect(report == ExecutorStopReport(drained: true, cancelled: 0, notStarted: 0, stuck: 0))
        let statistics = executor.statistics
        #expect(statistics.stuck == 1)
        #expect(statistics.completed == 7)
        #expect(runs.withLock { $0 } == [Int](repeating: 1, count: 8))
    }

    @Test func statisticsCountBatchTasksNotStartedAsQueued() async {
        let executor = makeExecutor(workers: 1, capacity: 64, batchAfterTaskUnder: .seconds(1))
        let outcomes = Outcomes()
        let gate = Gate()
        for id in 0..<7 {
            #expect(
                executor.trySubmit(
                    Probe(id: id, outcomes: outcomes) {
                        if id == 2 { await gate.wait() }
                    }))
        }
        executor.start()
        // 0 ran alone, 1 in the batch [1, 2, 3, 4, 5, 6]; 2 holds the worker, 3–6 wait in the batch.
        #expect(await outcomes.waitForCount(2))
        #expect(await pollUntil { executor.statistics.running == 1 })
        var statistics = executor.statistics
        #expect(statistics.queued == 4)
        #expect(statistics.running == 1)
        #expect(statistics.completed == 2, "batch tasks that ended count at once")
        #expect(executor.freeCapacity == 60)

        gate.open()
        #expect(await outcomes.waitForCount(7))
        #expect(await pollUntil { executor.statistics.running == 0 })
        statistics = executor.statistics
        #expect(statistics.queued == 0)
        #expect(statistics.completed == 7)
        #expect(executor.freeCapacity == 64)
        _ = await stopOnThread(executor)
    }

    @Test func capacityCountsBatchTasksNotStarted() async {
        let executor = makeExecutor(workers: 1, capacity: 4, batchAfterTaskUnder: .seconds(1))
        let outcomes = Outcomes()
        let gate = Gate()
        for id in 0..<4 {
            #expect(executor.trySubmit(Probe(id: id, outcomes: outcomes) { if id == 1 { await gate.wait() } }))
        }
        executor.start()
        // 0 ran alone; the batch [1, 2, 3] holds the worker with 2 and 3 not started: two places are free, not four.
        #expect(await outcomes.waitForCount(1))
        #expect(await pollUntil { executor.statistics.running == 1 })
        #expect(executor.freeCapacity == 2)
        #expect(executor.trySubmit(Probe(id: 4, outcomes: outcomes) {}))
        #expect(executor.trySubmit(Probe(id: 5, outcomes: outcomes) {}))
        #expect(!executor.trySubmit(Probe(id: 6, outcomes: outcomes) {}))
        #expect(executor.statistics.queued == 4)
        gate.open()
        #expect(await outcomes.waitForCount(6))
        _ = await stopOnThread(executor)
        #expect(executor.statistics.completed == 6)
        #expect(outcomes.outcomes(of: 6).isEmpty)
    }

    @Test func stopCancelsABatchTaskAndDropsTheRestOfItsBatch() async {
        let executor = makeExecutor(
            workers: 1, capacity: 64, stuckGrace: .seconds(10), batchAfterTaskUnder: .seconds(1))
        let outcomes = Outcomes()
        let runs = Locked([Int](repeating: 0, count: 8))
        for id in 0..<7 {
            #expect(
                executor.trySubmit(
                    Probe(id: id, outcomes: outcomes) {
                        runs.withLock { $0[id] += 1 }
                        if id == 2 { try await Task.sleep(for: .seconds(30)) }
                    }))
        }
        executor.start()
        #expect(await outcomes.waitForCount(2))
        #expect(await pollUntil { executor.statistics.running == 1 })
        #expect(executor.trySubmit(Probe(id: 7, outcomes: outcomes) { runs.withLock { $0[7] += 1 } }))
        #expect(executor.statistics.queued == 5)
        let report = await stopOnThread(executor, deadline: .milliseconds(200))
        #expect(report == ExecutorStopReport(drained: false, cancelled: 1, notStarted: 5, stuck: 0))
        #expect(outcomes.count == 8)
        #expect(outcomes.all.values.allSatisfy { $0.count == 1 }, "one finished call per task")
        #expect(outcomes.outcomes(of: 2).map(\.label) == ["cancelledAtStop"])
        for id in 3..<8 { #expect(outcomes.outcomes(of: id).map(\.label) == ["notStarted"], "\(id)") }
        #expect(runs.withLock { $0 } == [1, 1, 1, 0, 0, 0, 0, 0])
        let statistics = executor.statistics
        #expect(statistics.notStarted == 5)
        #expect(statistics.cancelledAtStop == 1)
        #expect(statistics.completed == 2)
        #expect(statistics.queued == 0 && statistics.running == 0)
    }

    @Test func aBlockedBatchTaskDoesNotHoldTheRestOfItsBatchFromAFreeWorker() async {
        // Whichever worker's batch the blocker lands in, the tasks behind it must run on the other worker (put back
        // in the queue after a supervisor tick): the blocker waits for all of them.
        let executor = makeExecutor(workers: 2, capacity: 64, batchAfterTaskUnder: .seconds(1))
        let outcomes = Outcomes()
        let done = Locked(0)
        for id in 0..<12 {
            #expect(
                executor.trySubmit(
                    Probe(id: id, outcomes: outcomes) {
                        if id == 3 {
                            guard await pollUntil(within: .seconds(10), { done.withLock { $0 } == 11 }) else {
                                throw ProbeError.noRendezvous
                            }
                        } else {
                            done.withLock { $0 += 1 }
                        }
                    }))
        }
        executor.start()
        #expect(await outcomes.waitForCount(12))
        _ = await stopOnThread(executor)
        #expect(outcomes.all.allSatisfy { $0.value.map(\.label) == ["completed"] }, "\(outcomes.outcomes(of: 3))")
        #expect(executor.statistics.completed == 12)
    }

    @Test func whileDrainingTheRestOfATimedOutBatchGetsAWorkerInAVacantSlot() async {
        // One worker holds task 0 while the other runs task 1 and then takes the batch [2, 3, ..., 7] (nobody else
        // is free). `stop` starts draining and task 0 ends, so that worker finds the queue empty and leaves. Task 2
        // ignores its cancellation at its deadline: the rest of its batch goes back to the queue while its worker
        // stays on it, and only a worker started for the vacant slot can run them (else they would wait out the
        // 60 s stuck grace). Were the first worker still there, it would run them: the test never fails for that.
        let executor = makeExecutor(
            workers: 2, capacity: 64, stuckGrace: .seconds(60), batchAfterTaskUnder: .seconds(1))
        let outcomes = Outcomes()
        let started = Locked(Set<Int>())
        let gates = [Gate(), Gate(), Gate()]
        executor.start()
        for id in 0..<2 {
            #expect(
                executor.trySubmit(
                    Probe(id: id, outcomes: outcomes) {
                        started.withLock { _ = $0.insert(id) }
                        await gates[id].wait()
                    }))
            #expect(await pollUntil { started.withLock { $0.contains(id) } })
        }
        #expect(
            executor.trySubmit(
                Probe(id: 2, timeout: .seconds(3), outcomes: outcomes) {
                    started.withLock { _ = $0.insert(2) }
                    await gates[2].wait()  // not cancellable
                }))
        for id in 3..<8 { #expect(executor.trySubmit(Probe(id: id, outcomes: outcomes) {})) }
        gates[1].open()  // task 1 was short: its worker takes the six queued tasks as one batch
        #expect(await pollUntil { started.withLock { $0.contains(2) } })
        async let report = stopOnThread(executor, deadline: .seconds(60))
        gates[0].open()
        #expect(await outcomes.waitForCount(7, within: .seconds(30)))
        for id in [0, 1, 3, 4, 5, 6, 7] {
            #expect(outcomes.outcomes(of: id).map(\.label) == ["completed"], "\(id)")
        }
        #expect(outcomes.outcomes(of: 2).isEmpty, "task 2 still runs")
        gates[2].open()
        #expect(await report == ExecutorStopReport(drained: true, cancelled: 0, notStarted: 0, stuck: 0))
        #expect(outcomes.outcomes(of: 2).map(\.label) == ["timedOut"])
        #expect(executor.statistics.completed == 7)
    }

    @Test func manyShortTasksFromSeveralProducersEachFinishExactlyOnce() async {
        // Batches forming and ending while producers submit, with a full queue now and then.
        let executor = makeExecutor(workers: 3, capacity: 32)
        let outcomes = Outcomes()
        let runs = Locked([Int](repeating: 0, count: 4_000))
        executor.start()
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<4 {
                group.addTask {
                    await onThread {
                        for id in stride(from: producer, to: 4_000, by: 4) {
                            let probe = Probe(id: id, outcomes: outcomes) {
                                runs.withLock { $0[id] += 1 }
                                if id % 97 == 0 { throw ProbeError.boom }
                            }
                            while !executor.trySubmit(probe) { sched_yield() }
                        }
                    }
                }
            }
        }
        #expect(await outcomes.waitForCount(4_000))
        let report = await stopOnThread(executor)
        #expect(report.drained)
        #expect(runs.withLock { $0 } == [Int](repeating: 1, count: 4_000))
        #expect(outcomes.all.values.allSatisfy { $0.count == 1 })
        let statistics = executor.statistics
        let failures = (0..<4_000).filter { $0 % 97 == 0 }.count
        #expect(statistics.failed == failures)
        #expect(statistics.completed == 4_000 - failures)
        #expect(statistics.submitted == 4_000)
    }

    @Test func aBatchedTaskWakesNoWorkerUntilABatchIsQueuedOrTheTickComes() async {
        // Capacity 64: a batched submission wakes a parked worker once 16 tasks are queued (a quarter of the
        // capacity, below the batch limit of 32). The first tick of a 1 s supervisor comes a second after the start.
        let executor = makeExecutor(workers: 2, capacity: 64, supervisorTick: .seconds(1))
        let outcomes = Outcomes()
        let started = ContinuousClock.now
        executor.start()
        #expect(await pollUntil { executor.statistics.idleWorkers == 2 })
        var wakeups: [Int] = []
        for id in 0..<16 {
            #expect(executor.trySubmit(Probe(id: id, outcomes: outcomes) {}, start: .batched))
            wakeups.append(executor.statistics.wakeups)
        }
        let elapsed = started.duration(to: .now)
        if elapsed < .milliseconds(900) {
            // The 16th wakes one worker; that worker, finding more queued than its share while the other is
            // parked, may wake it too before the count is read (the search handed on): 1 or 2, never 0.
            #expect(wakeups.prefix(15) == [Int](repeating: 0, count: 15)[...], "wake-ups after each submission: \(wakeups)")
            #expect((1...2).contains(wakeups[15]), "wake-ups after each submission: \(wakeups)")
        } else {
            print("skipped the wake-up count: it took \(elapsed) to get there, so the supervisor may have ticked")
        }
        #expect(await outcomes.waitForCount(16))
        // Alone, a batched task still runs: the next tick wakes a worker for it.
        #expect(await pollUntil { executor.statistics.idleWorkers == 2 })
        #expect(executor.trySubmit(Probe(id: 16, outcomes: outcomes) {}, start: .batched))
        #expect(await outcomes.waitForCount(17))
        #expect(await stopOnThread(executor) == ExecutorStopReport(drained: true, cancelled: 0, notStarted: 0, stuck: 0))
        #expect(outcomes.all.values.allSatisfy { $0.map(\.label) == ["completed"] })
    }

    @Test func aStopRunsBatchedTasksThatFoundEveryWorkerParked() async {
        // Three batched tasks wake nobody (a quarter of the capacity is 16), and a stopping executor's tick wakes
        // nobody either: the stop itself must get them run, not wait out its drain deadline and drop them.
        let executor = makeExecutor(workers: 2, capacity: 64, supervisorTick: .seconds(1))
        let outcomes = Outcomes()
        executor.start()
        #expect(await pollUntil { executor.statistics.idleWorkers == 2 })
        for id in 0..<3 {
            #expect(executor.trySubmit(Probe(id: id, outcomes: outcomes) {}, start: .batched))
        }
        let report = await stopOnThread(executor, deadline: .seconds(5))
        #expect(report == ExecutorStopReport(drained: true, cancelled: 0, notStarted: 0, stuck: 0))
        #expect(outcomes.ids == [0, 1, 2])
        #expect(outcomes.all.values.allSatisfy { $0.map(\.label) == ["completed"] })
    }

    @Test func anIdleSupervisorWakesForTheNextTaskItsDeadlineAndTheStop() async {
        // Every accepted task finished: the supervisor stops ticking. The next submission must bring it back, or a
        // batched task alone would never start and a hung task would never be cancelled.
        let executor = makeExecutor(workers: 2, capacity: 64)
        let outcomes = Outcomes()
        executor.start()
        #expect(await pollUntil { executor.statistics.supervisorIdle })
        #expect(executor.trySubmit(Probe(id: 0, outcomes: outcomes) {}, start: .batched))
        #expect(await outcomes.waitForCount(1))
        #expect(await pollUntil { executor.statistics.supervisorIdle })
        #expect(executor.trySubmit(Probe(id: 1, timeout: .milliseconds(50), outcomes: outcomes) {
            try await Task.sleep(for: .seconds(60))  // returns early only when cancelled
        }))
        #expect(await outcomes.waitForCount(2))
        #expect(outcomes.outcomes(of: 0).map(\.label) == ["completed"])
        #expect(outcomes.outcomes(of: 1).map(\.label) == ["timedOut"])
        // Idle again at the stop: it returns, and the supervisor with it (the executor is released).
        #expect(await pollUntil { executor.statistics.supervisorIdle })
        weak let released = executor
        #expect(await stopOnThread(executor) == ExecutorStopReport(drained: true, cancelled: 0, notStarted: 0, stuck: 0))
        #expect(!executor.statistics.supervisorIdle)
        _ = consume executor
        #expect(await pollUntil { released == nil })
    }
}

// MARK: - Helpers

private func makeExecutor(
    workers: Int, capacity: Int, stuckGrace: Duration = .seconds(1), batchAfterTaskUnder: Duration? = nil,
    supervisorTick: Duration = .milliseconds(5)
) -> BoundedExecutor {
    var configuration = BoundedExecutor.Configuration(workers: workers, queueCapacity: capacity, stuckGrace: stuckGrace)
    configuration.supervisorTick = supervisorTick
    if let batchAfterTaskUnder { configuration.batchAfterTaskUnder = batchAfterTaskUnder }
    return BoundedExecutor(
        configuration: configuration, logger: Logger(label: "executor-tests", factory: { _ in SwiftLogNoOpLogHandler() }))
}

private enum ProbeError: Error, Equatable {
    case boom
    case noRendezvous
}

/// A test task: runs `body`, records its outcome under its id.
private struct Probe: ExecutorTask {
    let id: Int
    var timeout: Duration = .seconds(30)
    var kind: String { "probe" }
    let outcomes: Outcomes
    let body: @Sendable () async throws -> Void

    init(
        id: Int, timeout: Duration = .seconds(30), outcomes: Outcomes, _ body: @escaping @Sendable () async throws -> Void
    ) {
        self.id = id
        self.timeout = timeout
        self.outcomes = outcomes
        self.body = body
    }

    func run() async throws { try await body() }
    func finished(_ outcome: ExecutorOutcome) { outcomes.record(id, outcome) }
}

private final class Outcomes: Sendable {
    private let byID = Locked<[Int: [ExecutorOutcome]]>([:])

    func record(_ id: Int, _ outcome: ExecutorOutcome) {
        byID.withLock { $0[id, default: []].append(outcome) }
    }

    func outcomes(of id: Int) -> [ExecutorOutcome] { byID.withLock { $0[id] ?? [] } }
    var all: [Int: [ExecutorOutcome]] { byID.withLock { $0 } }
    var ids: Set<Int> { Set(all.keys) }
    /// Number of finished calls.
    var count: Int { byID.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    func waitForCount(_ expected: Int, within limit: Duration = .seconds(20)) async -> Bool {
        await pollUntil(within: limit) { count >= expected }
    }
}

extension ExecutorOutcome {
    fileprivate var label: String {
        switch self {
        case .completed: "completed"
        case .failed: "failed"
        case .timedOut: "timedOut"
        case .stuck: "stuck"
        case .cancelledAtStop: "cancelledAtStop"
        case .notStarted: "notStarted"
        }
    }
}

/// A value behind an `NSLock`. Not `Synchronization.Mutex`: its futex is invisible to ThreadSanitizer, which then
/// reports every access it guards as a race, hiding the executor's own (run with `--sanitize=thread`).
private final class Locked<Value>: @unchecked Sendable {
    // Safe to share: `value` is only touched with `lock` held.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// An async gate that ignores cancellation: `wait` returns only once `open` was called.
private final class Gate: Sendable {
    private let state = Locked<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state in
                if state.isOpen { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

private func pollUntil(within limit: Duration = .seconds(20), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return true
}

/// Runs blocking work (`stop`, `waitForCapacity`) on a thread of its own, never on the cooperative pool.
private func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

private func stopOnThread(_ executor: BoundedExecutor, deadline: Duration = .seconds(10)) async -> ExecutorStopReport {
    await onThread { executor.stop(drainDeadline: .now + deadline) }
}
