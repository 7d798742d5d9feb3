import OrderdSupport
import Testing

/// Runs `body(i)` on `count` threads of our own and waits for all of them.
private func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) throws {
    let threads = try (0..<count).map { index in try OwnedThread(name: "reloadable-\(index)") { body(index) } }
    for thread in threads { thread.join() }
}

@Suite struct ReloadableTests {
    @Test func aValueSetOnOneThreadIsReadOnOthers() throws {
        let timeout = Reloadable(Duration.seconds(30))
        let enabled = Reloadable(false)
        let limit = Reloadable(600)
        let peers = Reloadable(["127.0.0.1"])
        timeout.value = .milliseconds(1_500)
        enabled.value = true
        limit.value = 0
        peers.value = ["10.0.0.0/8", "::1"]
        let seen = PThreadLocked<[(Duration, Bool, Int, [String])]>([])
        try onThreads(4) { _ in
            let values = (timeout.value, enabled.value, limit.value, peers.value)
            seen.withLock { $0.append(values) }
        }
        let values = seen.withLock { $0 }
        #expect(values.count == 4)
        for value in values {
            #expect(value.0 == .milliseconds(1_500))
            #expect(value.1 == true)
            #expect(value.2 == 0)
            #expect(value.3 == ["10.0.0.0/8", "::1"])
        }
    }

    @Test func scalarsKeepTheirValue() {
        for duration in [Duration.zero, .nanoseconds(1), .seconds(-3), .seconds(86_400 * 365)] {
            #expect(Reloadable(duration).value == duration)
        }
        for number in [Int.min, -1, 0, 1, Int.max] {
            let box = Reloadable(0)
            box.value = number
            #expect(box.value == number)
        }
        let flag = Reloadable(true)
        flag.value = false
        #expect(flag.value == false)
    }

    @Test func concurrentWritersLeaveOneOfTheWrittenValues() throws {
        let threads = 4
        let rounds = 2_000
        let number = Reloadable(-1)
        let duration = Reloadable(Duration.seconds(-1))
        let words = Reloadable(["initial"])
        // Every read is the initial value or one some thread wrote: never a torn or invented one.
        let strayReads = PThreadLocked(0)
        try onThreads(threads) { index in
            var stray = 0
            for round in 0..<rounds {
                let written = index * rounds + round
                number.value = written
                duration.value = .milliseconds(written)
                words.value = ["thread \(index)", "round \(round)"]
                let read = number.value
                if !(read == -1 || (0..<threads * rounds).contains(read)) { stray += 1 }
                let readDuration = duration.value
                let (seconds, attoseconds) = readDuration.components
                let millis = seconds * 1_000 + attoseconds / 1_000_000_000_000_000
                let wholeMillis = readDuration == .milliseconds(millis)
                if !(readDuration == .seconds(-1) || (wholeMillis && (0..<Int64(threads * rounds)).contains(millis))) {
                    stray += 1
                }
                let readWords = words.value
                if !(readWords == ["initial"] || (readWords.count == 2 && readWords[0].hasPrefix("thread "))) { stray += 1 }
            }
            strayReads.withLock { $0 += stray }
        }
        #expect(strayReads.withLock { $0 } == 0)
        let lastWritten = (0..<threads).map { $0 * rounds + rounds - 1 }
        #expect(lastWritten.contains(number.value))
        #expect(lastWritten.map { Duration.milliseconds($0) }.contains(duration.value))
        #expect((0..<threads).map { ["thread \($0)", "round \(rounds - 1)"] }.contains(words.value))
    }
}

@Suite struct PThreadLockedTests {
    @Test func aWaiterSeesTheStateAnotherThreadSignalled() throws {
        let box = PThreadLocked<Int?>(nil)
        let got = PThreadLocked<Int?>(nil)
        let waiter = try OwnedThread(name: "waiter") {
            let value = box.withLock { (value, _) -> LockedStep<Int> in value.map { .done($0) } ?? .wait(until: nil) }
            got.withLock { $0 = value }
        }
        box.withLock {
            $0 = 42
            box.signal()
        }
        waiter.join()
        #expect(got.withLock { $0 } == 42)
    }

    @Test func aWaitPastItsDeadlineReportsTheTimeout() {
        let box = PThreadLocked(0)
        var runs: [Bool] = []
        let result = box.withLock { (_, timedOut) -> LockedStep<String> in
            runs.append(timedOut)
            return timedOut ? .done("timed out") : .wait(until: .now - .seconds(1))
        }
        #expect(result == "timed out")
        #expect(runs == [false, true])
    }
}
