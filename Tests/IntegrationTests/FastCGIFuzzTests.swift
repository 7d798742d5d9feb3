import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// FastCGI records sent straight to orderd's unix socket (`FastCGIFuzzGenerator`), class by class, seeded like
/// the HTTP fuzzer: `ORDERD_FUZZ_SEED` replays a run, `ORDERD_FUZZ_ONLY` one case, `ORDERD_FUZZ_FCGI_CASES` sets
/// the count (default 1,000, spread evenly over the classes).
///
/// Per case: the answer its class promises (a whole request gets its own status, a broken one a 4xx or a
/// closed connection), never a 5xx, never a hang past the read deadline. After each class: the same orderd
/// process is running, a request over FastCGI and one through nginx get 200, and its threads and descriptors are
/// back where they were (nothing leaked per connection). After all: exactly the orders answered 201 were stored.
///
/// The one class libfcgi cannot survive (PARAMS lengths that overflow its allocation size) runs under the
/// supervisor we ship, scripts/socket-holder.py: the process aborts, is restarted, and nothing acknowledged
/// is lost.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct FastCGIFuzzTests {
    /// `server.request_timeout` of the fuzzed orderd: the read deadline that ends a stalled connection.
    static let requestTimeout: Duration = .seconds(2)
    static let connections = 4
    static var settings: [String: [String: String]] { ["server": ["request_timeout": "2s", "request_workers": "4"]] }

    @Test func orderdStaysUpThroughEveryClass() throws {
        let seed = FuzzSettings.seed()
        let classes = FastCGIFuzzClass.allCases
        let count = max(FuzzSettings.count("ORDERD_FUZZ_FCGI_CASES", default: 1_000), classes.count)
        let indices = FuzzSettings.only.map { [$0] } ?? Array(0..<count)
        print("fastcgi fuzz: seed \(FuzzSettings.hex(seed)) cases \(indices.count) (replay: ORDERD_FUZZ_SEED=\(FuzzSettings.hex(seed)))")

        try withRunningStack(settings: Self.settings) { (stack: Stack) throws in
            let pid = try #require(stack.orderd?.processIdentifier)
            // Warm up what starts lazily (follow-up tasks, the store's readers) before taking the baseline.
            let warm = try RawHTTP.json("POST", "/orders", port: stack.port, body: String(decoding: FastCGIFuzzGenerator.validOrder, as: UTF8.self))
            try #require(warm.status == 201)
            try Self.expectHealthy(stack)
            usleep(300_000)
            let baseline = ProcessResources(pid: pid)
            let ordersBefore = try Self.orderCount(stack)
            var total = FastCGIFuzzTally()
            let started = ContinuousClock.now

            for kind in classes {
                let cases = indices.map { FastCGIFuzzGenerator.make(seed: seed, index: $0) }.filter { $0.kind == kind }
                guard !cases.isEmpty else { continue }
                let tally = FastCGIFuzzRun(seed: seed, cases: cases, socketPath: stack.socketPath).run(connections: Self.connections)
                total.merge(tally)
                for failure in tally.failures.prefix(5) { print(failure) }
                #expect(tally.failures.isEmpty, "\(kind.rawValue): \(tally.failures.count) of \(cases.count) cases failed; first: \(tally.failures.first ?? "")")

                // Still the same process, still answering both ways, nothing leaked.
                #expect(stack.orderd?.isRunning == true && kill(pid, 0) == 0, "orderd died during \(kind.rawValue):\n\(stack.orderdLog.suffix(2000))")
                try Self.expectHealthy(stack)
                let settled = ProcessResources.settle(pid: pid, to: baseline, within: .seconds(6))
                #expect(settled.threads <= baseline.threads + 2, "threads after \(kind.rawValue): \(settled.threads), baseline \(baseline.threads)")
                #expect(settled.descriptors <= baseline.descriptors + 2, "descriptors after \(kind.rawValue): \(settled.descriptors), baseline \(baseline.descriptors)")
                print(
                    "fastcgi fuzz: \(kind.rawValue): \(cases.count) cases, \(tally.outcomeLine); after: "
                        + "threads \(settled.threads) (baseline \(baseline.threads)), fds \(settled.descriptors) "
                        + "(baseline \(baseline.descriptors)), healthz 200 over FastCGI and nginx")
            }
            let elapsed = ContinuousClock.now - started
            print(total.summary(seed: seed, elapsed: elapsed))
            #expect(total.cases == indices.count)
            // Exactly what was answered 201 is stored (the classes send no complete valid order, so none).
            #expect(try Self.orderCount(stack) == ordersBefore + total.created, "orders stored beyond those answered 201")
        }
    }

    /// Debian's libfcgi aborts the process on a PARAMS pair whose lengths overflow its allocation size (verified
    /// against the built orderd: `fcgiapp.c:75: Malloc: Assertion ... failed`, SIGABRT). Under
    /// scripts/socket-holder.py (Stack launch `.holder`, like `Restart=on-failure`) the process comes back,
    /// requests through nginx work again, and every order acknowledged with a 201 before a crash is still there.
    @Test func libfcgiAbortIsSurvivedUnderTheSupervisor() throws {
        let seed = FuzzSettings.seed()
        // One round per kind of abort, each crashing a running orderd.
        let rounds = FastCGIFuzzGenerator.libfcgiAbortKinds
        print("fastcgi fuzz (abort class): seed \(FuzzSettings.hex(seed)) rounds \(rounds)")
        let stack = try Stack(settings: Self.settings, launch: .holder)
        defer { stack.shutdown() }
        // No in-process backtrace on the abort: it only delays the restart.
        try stack.start(extraEnvironment: ["SWIFT_BACKTRACE": "enable=no"])
        let holder = try #require(stack.orderd?.processIdentifier)

        let load = BackgroundOrders(port: stack.port)
        load.start()
        var acknowledged: [String] = []
        var crashed = 0
        var restarted = 0
        for round in 0..<rounds {
            var random = FuzzRandom(seed: seed, index: round)
            let before = try #require(ProcessResources.child(of: holder, within: .seconds(15)), "orderd runs under the holder")
            for n in 0..<10 {
                let response = try RawHTTP.json("POST", "/orders", port: stack.port, body: Self.order(note: "before-crash-\(round)-\(n)"))
                #expect(response.status == 201, "\(response.status) \(response.bodyText)")
                if let location = response.header("location") { acknowledged.append(location) }
            }
            let (variant, bytes) = FastCGIFuzzGenerator.libfcgiAbort(&random, kind: round)
            let client = try FastCGIClient(socketPath: stack.socketPath, timeout: .milliseconds(500))
            client.sendIgnoringErrors(bytes)
            let died = ProcessResources.waitUntilGone(before, within: .seconds(15))
            #expect(died, "orderd pid \(before) survived \(variant)")
            if died { crashed += 1 }
            let after = try #require(ProcessResources.child(of: holder, within: .seconds(15), other: before), "the holder restarted orderd")
            try stack.waitForHealth(timeout: .seconds(20))
            try Self.expectHealthy(stack)
            restarted += 1
            print(
                "fastcgi fuzz (abort class): round \(round): \(variant) (\(bytes.count) bytes: \(fuzzEscaped(bytes))) "
                    + "aborted pid \(before); restarted as pid \(after); healthz 200 over FastCGI and nginx")
        }
        let background = load.stop()
        acknowledged += background.acknowledged
        let log = stack.orderdLog
        let aborts = log.components(separatedBy: "Malloc: Assertion").count + log.components(separatedBy: "stack smashing detected").count - 2
        #expect(aborts == rounds, "libfcgi's assertion or glibc's stack protector once per round:\n\(log.suffix(3000))")
        #expect(log.components(separatedBy: "exited (-6); restarting").count - 1 == rounds, "SIGABRT and a restart per round")
        var missing: [String] = []
        for location in acknowledged where (try? RawHTTP.request("GET", location, port: stack.port).status) != 200 { missing.append(location) }
        #expect(missing.isEmpty, "\(missing.count) of \(acknowledged.count) acknowledged orders are gone: \(missing.prefix(5))")
        print(
            "fastcgi fuzz (abort class) summary: seed \(FuzzSettings.hex(seed)), \(rounds) aborts sent, \(crashed) crashes, "
                + "\(restarted) restarts; \(acknowledged.count) orders acknowledged (\(background.acknowledged.count) by a concurrent "
                + "client, which also saw \(background.refused) requests fail while orderd was down), "
                + "\(acknowledged.count - missing.count) readable afterwards")
        #expect(crashed == rounds)
    }

    static func order(note: String) -> String {
        #"{"customer":{"phone":"+8613800138000"},"currency":"CNY","items":[{"sku":"ABORT-1","quantity":1,"unit_price_cents":100}],"note":"\#(note)"}"#
    }

    /// GET /healthz over FastCGI straight to the socket and through nginx.
    static func expectHealthy(_ stack: Stack, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let client = try FastCGIClient(socketPath: stack.socketPath, timeout: .seconds(5))
        try client.send(FastCGIClient.wholeRequest(FastCGIClient.httpParams(method: "GET", uri: "/healthz")))
        let reply = client.readReply(deadline: .now + .seconds(10))
        #expect(reply.status == 200, "healthz over FastCGI: \(reply.end) \(String(decoding: reply.stdout.prefix(200), as: UTF8.self))", sourceLocation: sourceLocation)
        #expect(try RawHTTP.request("GET", "/healthz", port: stack.port).status == 200, "healthz through nginx", sourceLocation: sourceLocation)
    }

    static func orderCount(_ stack: Stack) throws -> Int {
        let query = try Stack.run("/usr/bin/sqlite3", ["-readonly", stack.databasePath, "SELECT count(*) FROM orders;"])
        return try #require(Int(query.output.trimmingCharacters(in: .whitespacesAndNewlines)), "sqlite3: \(query.output)")
    }
}

/// Runs one class's cases over a few concurrent connections.
final class FastCGIFuzzRun: Sendable {
    let seed: UInt64
    let cases: [FastCGIFuzzCase]
    let socketPath: String
    private let next = Atomic<Int>(0)
    private let results = Mutex(FastCGIFuzzTally())

    init(seed: UInt64, cases: [FastCGIFuzzCase], socketPath: String) {
        self.seed = seed
        self.cases = cases
        self.socketPath = socketPath
    }

    func run(connections: Int) -> FastCGIFuzzTally {
        let done = DispatchGroup()
        for worker in 0..<connections {
            done.enter()
            let thread = Thread { [self] in
                defer { done.leave() }
                var local = FastCGIFuzzTally()
                while true {
                    let position = next.add(1, ordering: .relaxed).oldValue
                    guard position < cases.count else { break }
                    local.record(cases[position], run(cases[position]), seed: seed)
                }
                results.withLock { $0.merge(local) }
            }
            thread.name = "fcgi-fuzz-\(worker)"
            thread.start()
        }
        done.wait()
        return results.withLock { $0 }
    }

    enum Outcome: Sendable {
        /// We closed without reading (the case ends with `.close`).
        case notRead
        case reply(FastCGIClient.Reply)
        case failed(String)
    }

    private func run(_ fuzzCase: FastCGIFuzzCase) -> Outcome {
        guard let client = try? FastCGIClient(socketPath: socketPath, timeout: .milliseconds(200)) else {
            return .failed("cannot connect to \(socketPath)")
        }
        // Every wait is bounded: the sends by the case's own length, the read by the read deadline plus slack.
        let sendDeadline = ContinuousClock.now + FastCGIFuzzTests.requestTimeout * 3
        for step in fuzzCase.steps {
            switch step {
            case .send(let bytes): client.sendIgnoringErrors(bytes)
            case .sendSlowly(let bytes, let chunk, let gap): client.sendSlowly(bytes, chunk: chunk, gap: gap, deadline: sendDeadline)
            case .pause(let duration): usleep(UInt32(duration.components.seconds) * 1_000_000 + UInt32(duration.components.attoseconds / 1_000_000_000_000))
            case .halfClose: client.halfClose()
            case .close: return .notRead
            }
        }
        return .reply(client.readReply(requestID: fuzzCase.requestID, deadline: .now + FastCGIFuzzTests.requestTimeout + .seconds(4)))
    }
}

struct FastCGIFuzzTally: Sendable {
    var cases = 0
    var created = 0
    var perClass: [String: Int] = [:]
    var outcomes: [String: Int] = [:]
    var perClassOutcomes: [String: [String: Int]] = [:]
    var failures: [String] = []

    var outcomeLine: String { outcomes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }

    mutating func record(_ fuzzCase: FastCGIFuzzCase, _ outcome: FastCGIFuzzRun.Outcome, seed: UInt64) {
        cases += 1
        perClass[fuzzCase.kind.rawValue, default: 0] += 1
        var label: String
        var problem: String?
        switch outcome {
        case .notRead:
            label = "closed-by-client"
        case .failed(let why):
            label = "error"
            problem = why
        case .reply(let reply):
            let status = reply.status
            switch reply.end {
            case .timedOut: label = "hang"
            case .closed: label = status.map { "\($0)+closed" } ?? "closed"
            case .endRequest(let protocolStatus): label = status.map(String.init) ?? "end-request(\(protocolStatus))"
            }
            if status == 201 { created += 1 }
            if reply.end == .timedOut {
                problem = "no answer and no close within the read deadline + 4 s (a hang)"
            } else if let status, status >= 500 {
                problem = "a \(status) from orderd"
            } else {
                switch fuzzCase.expect {
                case .status(let allowed):
                    if status.map({ !allowed.contains($0) }) ?? true { problem = "expected a status in \(allowed.sorted()), got \(label)" }
                case .statusOrClose(let allowed):
                    if let status, !allowed.contains(status) { problem = "expected a status in \(allowed.sorted()) or a close, got \(label)" }
                case .noHang:
                    break
                }
            }
        }
        outcomes[label, default: 0] += 1
        perClassOutcomes[fuzzCase.kind.rawValue, default: [:]][label, default: 0] += 1
        guard let problem else { return }
        failures.append(
            "fastcgi fuzz FAILED: seed \(FuzzSettings.hex(seed)) case \(fuzzCase.index) class \(fuzzCase.kind.rawValue)/\(fuzzCase.variant): \(problem)\n"
                + "  replay: ORDERD_FUZZ_SEED=\(FuzzSettings.hex(seed)) ORDERD_FUZZ_ONLY=\(fuzzCase.index)\n"
                + "  bytes (\(fuzzCase.bytes.count)): \(fuzzEscaped(fuzzCase.bytes))")
    }

    mutating func merge(_ other: FastCGIFuzzTally) {
        cases += other.cases
        created += other.created
        perClass.merge(other.perClass, uniquingKeysWith: +)
        outcomes.merge(other.outcomes, uniquingKeysWith: +)
        perClassOutcomes.merge(other.perClassOutcomes) { $0.merging($1, uniquingKeysWith: +) }
        failures += other.failures
    }

    func summary(seed: UInt64, elapsed: Duration) -> String {
        func line(_ counts: [String: Int]) -> String { counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
        return """
            fastcgi fuzz summary: seed \(FuzzSettings.hex(seed)), \(cases) cases in \(fuzzSeconds(elapsed)) s, \(failures.count) failures, \(created) answered 201
              per class:   \(line(perClass))
              per outcome: \(line(outcomes))
            """
    }
}

/// Threads and open descriptors of a process, from /proc.
struct ProcessResources: Sendable {
    var threads: Int
    var descriptors: Int

    init(pid: pid_t) {
        threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? -1
        descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// Waits (bounded) until both counts are back at or under the baseline plus 2, and returns the last reading.
    static func settle(pid: pid_t, to baseline: ProcessResources, within timeout: Duration) -> ProcessResources {
        let deadline = ContinuousClock.now + timeout
        var now = ProcessResources(pid: pid)
        while (now.threads > baseline.threads + 2 || now.descriptors > baseline.descriptors + 2) && ContinuousClock.now < deadline {
            usleep(100_000)
            now = ProcessResources(pid: pid)
        }
        return now
    }

    /// A child process of `parent` (other than `other`), waiting up to `timeout` for one to appear.
    static func child(of parent: pid_t, within timeout: Duration, other: pid_t? = nil) -> pid_t? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            for entry in entries {
                guard let pid = pid_t(entry), pid != other,
                    let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { continue }
                // "pid (comm) state ppid ..."
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                if fields.count > 2, fields[0] != "Z", pid_t(fields[1]) == parent { return pid }
            }
            usleep(50_000)
        }
        return nil
    }

    /// Waits until `pid` is gone (reaped by its parent); false after `timeout`.
    static func waitUntilGone(_ pid: pid_t, within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if kill(pid, 0) != 0 && errno == ESRCH { return true }
            usleep(50_000)
        }
        return false
    }
}

/// A client posting valid orders through nginx one after another until stopped, keeping the Location of every
/// 201; what fails while orderd is down (502, a reset) is counted, not acknowledged.
final class BackgroundOrders: Sendable {
    private let port: Int
    private let stopping = Atomic<Bool>(false)
    private let state = Mutex<(acknowledged: [String], refused: Int)>(([], 0))
    private let done = DispatchSemaphore(value: 0)

    init(port: Int) { self.port = port }

    func start() {
        let thread = Thread { [self] in
            var n = 0
            // Bounded: at most 10,000 orders, and the test stops it after its rounds.
            while !stopping.load(ordering: .relaxed) && n < 10_000 {
                n += 1
                let response = try? RawHTTP.json("POST", "/orders", port: port, body: FastCGIFuzzTests.order(note: "background-\(n)"))
                state.withLock {
                    if response?.status == 201, let location = response?.header("location") {
                        $0.acknowledged.append(location)
                    } else {
                        $0.refused += 1
                    }
                }
                usleep(5_000)
            }
            done.signal()
        }
        thread.name = "fcgi-fuzz-background-orders"
        thread.start()
    }

    func stop() -> (acknowledged: [String], refused: Int) {
        stopping.store(true, ordering: .relaxed)
        _ = done.wait(timeout: .now() + 30)
        return state.withLock { $0 }
    }
}
