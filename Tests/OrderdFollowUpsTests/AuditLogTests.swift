import Foundation
import OrderdStore
import OrderdExecutor
import OrderdFollowUps
import OrderdOrders
import Synchronization
import TestSupport
import Testing

/// The audit file's own queue: what audit tasks wait in instead of an executor worker.
///
/// The writer is a thread of its own; the tests that wait for it are `async` and poll, so that a slow writer
/// keeps no thread of the cooperative pool from the suites that need one (FollowUps' executor runs on it).
@Suite struct AuditLogTests {
    private final class Outcomes: Sendable {
        let seen = Mutex<[String: [String]]>([:])
        func record(_ line: String, _ outcome: AuditLog.LineOutcome) {
            let text: String
            switch outcome {
            case .written: text = "written"
            case .failed(let error): text = "failed: \(error)"
            case .expired: text = "expired"
            }
            seen.withLock { $0[line, default: []].append(text) }
        }
        var count: Int { seen.withLock { $0.values.reduce(0) { $0 + $1.count } } }
    }

    @Test func everyQueuedLineIsWrittenInOrderAndAnsweredOnce() throws {
        try withStoreDirectory { directory in
            let path = directory + "/audit.log"
            let log = try AuditLog(path: path)
            let outcomes = Outcomes()
            let lines = (0..<500).map { "{\"n\":\($0)}" }
            for line in lines {
                #expect(log.enqueue(Array(line.utf8), deadline: nil) { outcomes.record(line, $0) })
            }
            log.close()  // writes what is queued first, then returns
            #expect(outcomes.seen.withLock { $0 } == Dictionary(uniqueKeysWithValues: lines.map { ($0, ["written"]) }))
            let file = try String(contentsOfFile: path, encoding: .utf8)
            #expect(file == lines.joined(separator: "\n") + "\n")
        }
    }

    @Test func linesThatComeInDuringTheIntervalWaitForTheNextRound() async throws {
        try await withStoreDirectory { directory in
            let path = directory + "/audit.log"
            // An interval no test run lasts: the writer comes back only when woken or stopped.
            let log = try AuditLog(path: path, interval: .seconds(3600))
            let outcomes = Outcomes()
            #expect(log.enqueue(Array("a".utf8), deadline: nil) { outcomes.record("a", $0) })
            try #require(await pollUntil(.seconds(600)) { outcomes.count == 1 }, "the first line was never written")
            for line in ["b", "c", "d"] {
                #expect(log.enqueue(Array(line.utf8), deadline: nil) { outcomes.record(line, $0) })
            }
            #expect(outcomes.count == 1, "lines of the interval were written without waiting for the next round")
            log.close()  // ends the rest: one more round for what waits
            #expect(outcomes.seen.withLock { $0 } == ["a": ["written"], "b": ["written"], "c": ["written"], "d": ["written"]])
            #expect(log.rounds == 2)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "a\nb\nc\nd\n")
        }
    }

    @Test func aHalfFullQueueWakesARestingWriter() async throws {
        try await withStoreDirectory { directory in
            let log = try AuditLog(path: directory + "/audit.log", capacity: 4, interval: .seconds(3600))
            let outcomes = Outcomes()
            #expect(log.enqueue(Array("a".utf8), deadline: nil) { outcomes.record("a", $0) })
            try #require(await pollUntil(.seconds(600)) { outcomes.count == 1 }, "the first line was never written")
            for line in ["b", "c"] {
                #expect(log.enqueue(Array(line.utf8), deadline: nil) { outcomes.record(line, $0) })
            }
            // Both written long before the interval would end (a generous bound, not a speed expectation).
            #expect(await pollUntil(.seconds(600)) { outcomes.count >= 2 })
            #expect(await pollUntil(.seconds(600)) { outcomes.count >= 3 })
            #expect(log.rounds == 2)
            log.close()
            #expect(outcomes.seen.withLock { $0 } == ["a": ["written"], "b": ["written"], "c": ["written"]])
        }
    }

    @Test func aLinePastItsDeadlineIsNotWritten() throws {
        try withStoreDirectory { directory in
            let path = directory + "/audit.log"
            let log = try AuditLog(path: path)
            let outcomes = Outcomes()
            #expect(log.enqueue(Array("late".utf8), deadline: .now - .seconds(1)) { outcomes.record("late", $0) })
            #expect(log.enqueue(Array("on time".utf8), deadline: .now + .seconds(600)) { outcomes.record("on time", $0) })
            log.close()
            #expect(outcomes.seen.withLock { $0 } == ["late": ["expired"], "on time": ["written"]])
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "on time\n")
        }
    }

    @Test func queuedLinesCountsWhatWaitsForTheWriter() async throws {
        try await withStoreDirectory { directory in
            let log = try AuditLog(path: directory + "/audit.log")
            #expect(log.queuedLines == 0)
            // `done` runs on the writer thread: holding the first line's answer keeps the writer from taking
            // the lines queued behind it.
            let inFirstAnswer = Collected<Bool>()
            let release = DispatchSemaphore(value: 0)
            #expect(log.enqueue(Array("first".utf8), deadline: nil) { _ in
                inFirstAnswer.append(true)
                release.wait()
            })
            try #require(await pollUntil(.seconds(600)) { !inFirstAnswer.values.isEmpty }, "the writer never took the first line")
            #expect(log.queuedLines == 0)  // the writer took it
            for n in 0..<3 { #expect(log.enqueue(Array("line \(n)".utf8), deadline: nil) { _ in }) }
            #expect(log.queuedLines == 3)
            release.signal()
            log.close()
            #expect(log.queuedLines == 0)
        }
    }

    @Test func aFullOrClosedQueueRefusesWithoutAnAnswer() throws {
        try withStoreDirectory { directory in
            let outcomes = Outcomes()
            let none = try AuditLog(path: directory + "/none.log", capacity: 0)
            #expect(!none.enqueue(Array("x".utf8), deadline: nil) { outcomes.record("x", $0) })
            none.close()
            let closed = try AuditLog(path: directory + "/closed.log")
            closed.close()
            #expect(!closed.enqueue(Array("y".utf8), deadline: nil) { outcomes.record("y", $0) })
            #expect(outcomes.count == 0)
        }
    }

    @Test func theHandlerReportsAWrittenLineAsCompleted() throws {
        try withStoreDirectory { directory in
            let log = try AuditLog(path: directory + "/audit.log")
            let handler = AuditHandler(log: log, wallClock: { 1_700_000_000_000 })
            let outcome = Mutex<String?>(nil)
            let order = StoredOrder(id: "ord_1", createdAtMillis: 1_700_000_000_000, order: .sample(1))
            let queued = handler.enqueue(order: order, taskID: "ord_1:audit", attempt: 1, deadline: .now + .seconds(600)) { result in
                if case .completed = result { outcome.withLock { $0 = "completed" } } else { outcome.withLock { $0 = "\(result)" } }
            }
            #expect(queued)
            log.close()
            #expect(outcome.withLock { $0 } == "completed")
            let file = try String(contentsOfFile: directory + "/audit.log", encoding: .utf8)
            #expect(file.contains("\"task_id\":\"ord_1:audit\""))
        }
    }
}
