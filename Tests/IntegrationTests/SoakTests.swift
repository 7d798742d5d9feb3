import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The soak: a mixed load through nginx for `ORDERD_SOAK_SECONDS` (default 60; `make soak DURATION=10m`) while
/// the SMS gateway and webhook receiver (one real scripts/test-gateway.py on loopback) turn slow, answer 5xx,
/// close connections, and go down for real; the INI file is rewritten and reloaded now and then; orderd is
/// restarted once beside itself through scripts/socket-holder.py. Then it audits from the outside: every 201
/// still answers, every durable task is done or dead with a reason, repeats at the gateway carry the same key,
/// no 5xx, RSS flat, descriptors and threads back where they were. The Markdown report is printed and, with
/// `ORDERD_SOAK_REPORT=path`, written there.
@Suite(.serialized)
struct SoakTests {
    /// `ORDERD_SOAK_SECONDS`: 60 by default (the version in `make test`), at least 30.
    static let seconds: Int = {
        let text = ProcessInfo.processInfo.environment["ORDERD_SOAK_SECONDS"] ?? "60"
        return max(30, Int(text) ?? 60)
    }()

    /// The load, the settling, the idle wait for pooled connections (60 s) and the audit, with room to spare.
    static var timeLimitMinutes: Int { seconds / 60 + 8 }

    @Test(.timeLimit(.minutes(SoakTests.timeLimitMinutes)))
    func mixedLoadWithFailuresReloadsAndARestartLeavesNothingBehind() throws {
        let soak = try Soak(seconds: Self.seconds)
        defer { soak.tearDown() }
        try soak.run()
        let audit = try soak.audit()
        print(audit.report)
        if let path = ProcessInfo.processInfo.environment["ORDERD_SOAK_REPORT"], !path.isEmpty {
            try audit.report.write(toFile: path, atomically: true, encoding: .utf8)
            print("soak report written to \(path)")
        }
        audit.check()
    }
}

/// One soak run: the stack, the gateway, the client threads, the conductor (gateway phases, reloads, the
/// restart, the baseline) and the sampler, and what they counted.
final class Soak: @unchecked Sendable {
    enum Kind: String, CaseIterable, Sendable {
        case newOrder = "POST /orders"
        case keyedOrder = "POST /orders with Idempotency-Key"
        case replay = "POST /orders, key replayed, same body"
        case conflict = "POST /orders, key reused, other body"
        case lookup = "GET /orders/{id}"
        case unknown = "GET /orders/{unknown id}"
        case invalidJSON = "POST /orders, invalid JSON"
        case invalidOrder = "POST /orders, invalid order"

        var expected: Int {
            switch self {
            case .newOrder, .keyedOrder, .replay: 201
            case .conflict: 409
            case .lookup: 200
            case .unknown: 404
            case .invalidJSON: 400
            case .invalidOrder: 422
            }
        }

        /// Relative frequency in the mix.
        var weight: Int {
            switch self {
            case .newOrder: 30
            case .keyedOrder: 18
            case .replay: 8
            case .conflict: 3
            case .lookup: 24
            case .unknown: 6
            case .invalidJSON: 6
            case .invalidOrder: 5
            }
        }
    }

    struct Sample: Sendable {
        let at: Double
        let pid: pid_t
        let rssKiB: Int
        let fds: Int
        let threads: Int
    }

    struct Resources: Sendable {
        let pid: pid_t
        let rssKiB: Int
        let fds: Int
        let threads: Int
        let fdKinds: [String: Int]
        let threadNames: [String: Int]

        /// Descriptors apart from the pools: connections to the gateway and the database's files.
        var fdsApartFromPools: Int { fds - gatewayConnections - databaseFiles }
        var gatewayConnections: Int { fdKinds.first { $0.key.hasPrefix("tcp to :") }?.value ?? 0 }
        /// The database and its WAL, open once per SQLite connection (writer, checkpointer, readers).
        var databaseFiles: Int { fdKinds["database"] ?? 0 }

        static func measure(_ pid: pid_t, gatewayPort: Int, databasePath: String) -> Resources? {
            guard let rss = ProcessProbe.rssKiB(pid), let threads = ProcessProbe.threadCount(pid) else { return nil }
            let kinds = ProcessProbe.fdKinds(pid, remotePort: gatewayPort, databasePath: databasePath)
            return Resources(pid: pid, rssKiB: rss, fds: kinds.values.reduce(0, +), threads: threads, fdKinds: kinds,
                             threadNames: ProcessProbe.threadNames(pid))
        }
    }

    struct Unexpected: Sendable {
        let kind: Kind
        let status: Int
        let detail: String
        let context: String
    }

    let seconds: Int
    let seed: UInt64
    let threads: Int
    let thinkTime: Duration
    let stack: Stack
    let gateway: SoakGateway
    let start = ContinuousClock.now
    let loadEnd: ContinuousClock.Instant
    /// When the restart is asked for, and when the process it started is considered warm (the baseline).
    let restartAt: Duration
    let baselineAt: Duration
    let phaseLength: Duration
    let reloadEvery: Duration

    // What the clients counted.
    let statuses = Locked<[Kind: [Int: Int]]>([:])
    let acknowledged = Locked<[String]>([])
    let unexpected = Locked<[Unexpected]>([])
    let serverErrors = Locked<[Unexpected]>([])
    /// What the conductor is doing right now, attached to any unexpected answer.
    let context = Locked<String>("gateway ok")
    let gate = Locked<(paused: Bool, active: Int)>((false, 0))

    // What the conductor did.
    let phasesRun = Locked<[String: Int]>([:])
    let outages = Locked<Int>(0)
    let reloads = Locked<Int>(0)
    let restarts = Locked<[Duration]>([])
    let baseline = Locked<Resources?>(nil)
    let baselineNote = Locked<String>("")
    let resumedAt = Locked<Double?>(nil)
    let conductorErrors = Locked<[String]>([])

    // The sampler.
    let samples = Locked<[Sample]>([])
    let sampling = Locked<Bool>(true)

    static let executorWorkers = 6
    static let requestWorkers = 8
    static let smsAttempts = 3
    static let webhookAttempts = 4
    static let taskTimeout = "1s"

    init(seconds: Int) throws {
        self.seconds = seconds
        let environment = ProcessInfo.processInfo.environment
        seed = environment["ORDERD_SOAK_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...999_999)
        threads = environment["ORDERD_SOAK_THREADS"].flatMap { Int($0) } ?? 4
        thinkTime = .milliseconds(environment["ORDERD_SOAK_THINK_MS"].flatMap { Int($0) } ?? 15)
        loadEnd = start + .seconds(seconds)
        restartAt = .seconds(max(8, seconds * 15 / 100))
        baselineAt = restartAt + .seconds(max(8, seconds / 10))
        phaseLength = .seconds(max(4, min(20, seconds / 12)))
        reloadEvery = .seconds(max(9, min(30, seconds / 6)))
        gateway = try SoakGateway()
        do {
            stack = try Stack(settings: [
                "server": ["request_workers": "\(Self.requestWorkers)", "request_timeout": "5s"],
                "log": ["level": "info"],
                "executor": [
                    "workers": "\(Self.executorWorkers)", "queue_capacity": "256", "retry_backoff": "100ms",
                    "retry_backoff_max": "1s", "poll_interval": "100ms", "lease_timeout": "5s", "drain_timeout": "2s",
                ],
                "task.sms": [
                    "driver": "http", "gateway_url": "http://127.0.0.1:\(gateway.port)/sms", "timeout": Self.taskTimeout,
                    "max_attempts": "\(Self.smsAttempts)",
                ],
                "task.webhook": [
                    "url": "http://127.0.0.1:\(gateway.port)/hook", "timeout": Self.taskTimeout,
                    "max_attempts": "\(Self.webhookAttempts)",
                ],
            ], launch: .holder)
        } catch {
            gateway.shutdown()
            throw error
        }
    }

    func tearDown() {
        sampling.mutate { $0 = false }
        stack.shutdown()
        gateway.shutdown()
    }

    var elapsed: Double { Self.seconds(ContinuousClock.now - start) }
    var holder: pid_t { stack.orderd?.processIdentifier ?? 0 }

    /// The orderd process(es) under the holder: one, two during the restart.
    var orderdPIDs: [pid_t] { ProcessProbe.children(of: holder) }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    // MARK: - The run

    func run() throws {
        try stack.start()
        print("soak: \(seconds) s, seed \(seed) (ORDERD_SOAK_SEED to repeat the mix), \(threads) client threads, "
            + "dir \(stack.dir), gateway port \(gateway.port)")
        let sampler = Thread { [self] in sample() }
        sampler.start()
        let conductorDone = DispatchSemaphore(value: 0)
        let conducting = Thread { [self] in
            conduct()
            conductorDone.signal()
        }
        conducting.start()
        DispatchQueue.concurrentPerform(iterations: threads) { worker in client(worker) }
        // The conductor ends at loadEnd too; give it the time an outage or a restart in progress needs.
        if conductorDone.wait(timeout: .now() + 60) == .timedOut {
            conductorErrors.mutate { $0.append("the conductor did not finish within 60 s of the load's end") }
        }
    }

    /// Samples the orderd process(es) once a second until told to stop.
    private func sample() {
        while sampling.value {
            let at = elapsed
            for pid in orderdPIDs {
                if let rss = ProcessProbe.rssKiB(pid), let fds = ProcessProbe.fdCount(pid), let threads = ProcessProbe.threadCount(pid) {
                    samples.mutate { $0.append(Sample(at: at, pid: pid, rssKiB: rss, fds: fds, threads: threads)) }
                }
            }
            usleep(1_000_000)
        }
    }

    // MARK: Clients

    private func client(_ worker: Int) {
        var random = FuzzRandom(seed: seed &+ UInt64(worker) &* 0x9E37_79B9)
        var keyed: [(key: String, body: String, id: String)] = []
        var ids: [String] = []
        var n = 0
        let totalWeight = Kind.allCases.map(\.weight).reduce(0, +)
        while ContinuousClock.now < loadEnd {
            guard enter() else { break }
            defer { leave() }
            n += 1
            var pick = Int(random.next() % UInt64(totalWeight))
            var kind = Kind.allCases.first { pick -= $0.weight; return pick < 0 } ?? .newOrder
            if (kind == .replay || kind == .conflict) && keyed.isEmpty { kind = .keyedOrder }
            if kind == .lookup && ids.isEmpty { kind = .newOrder }
            let context = self.context.value
            do {
                let response: RawHTTPResponse
                var problem: String?
                switch kind {
                case .newOrder, .keyedOrder:
                    let body = Self.orderBody(worker: worker, n: n, random: &random)
                    let key = kind == .keyedOrder ? "soak-\(seed)-\(worker)-\(n)" : nil
                    response = try RawHTTP.json("POST", "/orders", port: stack.port, body: body,
                                                headers: key.map { [("Idempotency-Key", $0)] } ?? [])
                    if response.status == 201 {
                        if let id = response.json?["id"] as? String, response.header("Location") == "/orders/\(id)" {
                            acknowledged.mutate { $0.append(id) }
                            ids.append(id)
                            if ids.count > 256 { ids.removeFirst(128) }
                            if let key {
                                keyed.append((key, body, id))
                                if keyed.count > 64 { keyed.removeFirst(32) }
                            }
                        } else {
                            problem = "201 without an id and its Location: \(response.bodyText.prefix(200))"
                        }
                    }
                case .replay, .conflict:
                    let earlier = keyed[Int(random.next() % UInt64(keyed.count))]
                    let body = kind == .replay ? earlier.body : earlier.body.replacingOccurrences(of: "\"note\":\"", with: "\"note\":\"other ")
                    response = try RawHTTP.json("POST", "/orders", port: stack.port, body: body, headers: [("Idempotency-Key", earlier.key)])
                    if kind == .replay && response.status == 201 {
                        let id = response.json?["id"] as? String
                        if id != earlier.id || response.header("Idempotent-Replayed") != "true" {
                            problem = "replay of \(earlier.key) answered id \(id ?? "none") (first \(earlier.id)), Idempotent-Replayed \(response.header("Idempotent-Replayed") ?? "missing")"
                        }
                    }
                    if kind == .conflict && response.status == 409 && response.errorCode != "idempotency_conflict" {
                        problem = "409 with code \(response.errorCode ?? "none")"
                    }
                case .lookup:
                    let id = ids[Int(random.next() % UInt64(ids.count))]
                    response = try RawHTTP.request("GET", "/orders/\(id)", port: stack.port)
                    if response.status == 200 && response.json?["id"] as? String != id {
                        problem = "GET /orders/\(id) answered another order: \(response.bodyText.prefix(200))"
                    }
                case .unknown:
                    response = try RawHTTP.request("GET", "/orders/\(UUID().uuidString.lowercased())", port: stack.port)
                case .invalidJSON:
                    let bodies: [[UInt8]] = [
                        Array(#"{"customer":{"phone":"+8613800138000""#.utf8), Array(#"{"currency":"CNY","currency":"EUR"}"#.utf8),
                        Array("[1,2,]".utf8), [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D], Array(#"{"items":[]} x"#.utf8),
                    ]
                    response = try RawHTTP.request("POST", "/orders", port: stack.port, headers: [("Content-Type", "application/json")],
                                                   body: bodies[Int(random.next() % UInt64(bodies.count))])
                    if response.status == 400 && response.errorCode != "invalid_json" { problem = "400 with code \(response.errorCode ?? "none")" }
                case .invalidOrder:
                    let bodies = [
                        #"{"customer":{"phone":"+8613800138000"},"currency":"CNY","items":[]}"#,
                        #"{"customer":{"phone":"12345"},"currency":"CNY","items":[{"sku":"S","quantity":1,"unit_price_cents":1}]}"#,
                        #"{"customer":{"phone":"+8613800138000"},"currency":"XYZ","items":[{"sku":"S","quantity":0,"unit_price_cents":-1}]}"#,
                    ]
                    response = try RawHTTP.json("POST", "/orders", port: stack.port, body: bodies[Int(random.next() % UInt64(bodies.count))])
                    if response.status == 422 && response.errorCode != "validation_failed" { problem = "422 with code \(response.errorCode ?? "none")" }
                }
                statuses.mutate { $0[kind, default: [:]][response.status, default: 0] += 1 }
                if response.status >= 500 {
                    serverErrors.mutate { $0.append(Unexpected(kind: kind, status: response.status, detail: "\(response.errorCode ?? "") \(response.bodyText.prefix(160))", context: context)) }
                }
                if response.status != kind.expected {
                    problem = problem ?? "answered \(response.status), expected \(kind.expected): \(response.bodyText.prefix(200))"
                }
                if let problem {
                    unexpected.mutate { $0.append(Unexpected(kind: kind, status: response.status, detail: problem, context: context)) }
                }
            } catch {
                statuses.mutate { $0[kind, default: [:]][0, default: 0] += 1 }
                unexpected.mutate { $0.append(Unexpected(kind: kind, status: 0, detail: "no answer: \(error)", context: context)) }
            }
            usleep(UInt32(thinkTime.components.attoseconds / 1_000_000_000_000) + UInt32(thinkTime.components.seconds) * 1_000_000)
        }
    }

    /// Waits while the conductor has paused the load; false once the load is over.
    private func enter() -> Bool {
        while ContinuousClock.now < loadEnd {
            let entered = gate.withLock { state -> Bool in
                guard !state.paused else { return false }
                state.active += 1
                return true
            }
            if entered { return true }
            usleep(20_000)
        }
        return false
    }

    private func leave() { gate.mutate { $0.active -= 1 } }

    static func orderBody(worker: Int, n: Int, random: inout FuzzRandom) -> String {
        let currencies = ["CNY", "EUR", "USD", "JPY"]
        let lines = (0..<(1 + Int(random.next() % 3))).map { line in
            #"{"sku":"SKU-\#(line)","quantity":\#(1 + random.next() % 5),"unit_price_cents":\#(random.next() % 5000)}"#
        }
        return #"{"customer":{"phone":"+8613800138000","email":"li@example.com"},"currency":"\#(currencies[Int(random.next() % 4)])","items":[\#(lines.joined(separator: ","))],"note":"soak \#(worker)-\#(n)"}"#
    }

    // MARK: Conductor

    /// The gateway's behaviours, in turn, `phaseLength` each.
    static let phases: [(name: String, apply: @Sendable (SoakGateway) throws -> Void)] = [
        ("ok", { try $0.setMode(.ok) }),
        ("slow 300 ms", { try $0.setMode(.ok, delay: .milliseconds(300)) }),
        ("5xx: 503", { try $0.setMode(.fail, status: 503) }),
        ("down: process stopped, connections refused", { $0.goDown() }),
        ("slow 2 s, past the 1 s task timeout", { try $0.setMode(.ok, delay: .seconds(2)) }),
        ("flaky: every 3rd answered 500", { try $0.setMode(.flaky, status: 500, failEvery: 3) }),
        ("closes connections without answering", { try $0.setMode(.close) }),
    ]

    private func conduct() {
        var phase = 0
        var nextPhase = start + phaseLength
        var nextReload = start + reloadEvery / 2
        var restarted = false
        var measured = false
        phasesRun.mutate { $0[Self.phases[0].name, default: 0] += 1 }
        func attempt(_ what: String, _ body: () throws -> Void) {
            do { try body() } catch { conductorErrors.mutate { $0.append("\(what): \(error)") } }
        }
        func switchTo(_ index: Int) {
            let next = Self.phases[index]
            attempt("gateway phase \(next.name)") {
                if !gateway.isUp && !next.name.hasPrefix("down") { try gateway.comeBack() }
                try next.apply(gateway)
            }
            if next.name.hasPrefix("down") { outages.mutate { $0 += 1 } }
            phasesRun.mutate { $0[next.name, default: 0] += 1 }
            context.mutate { $0 = "gateway \(next.name)" }
        }
        while ContinuousClock.now < loadEnd {
            let now = ContinuousClock.now
            if !restarted && now >= start + restartAt {
                restarted = true
                attempt("restart") { try restart() }
            } else if restarted && !measured && now >= start + baselineAt {
                measured = true
                measureBaseline()
                phase = (phase + 1) % Self.phases.count
                switchTo(phase)
                nextPhase = ContinuousClock.now + phaseLength
            } else if now >= nextPhase {
                phase = (phase + 1) % Self.phases.count
                switchTo(phase)
                nextPhase = now + phaseLength
            } else if now >= nextReload {
                // Not across the restart: the holder forwards SIGHUP to one process.
                let nearRestart = !restarted && now + .seconds(3) >= start + restartAt
                if !nearRestart { attempt("reload") { try reload() } }
                nextReload = now + reloadEvery
            }
            usleep(100_000)
        }
        context.mutate { $0 = "after the load" }
        attempt("gateway back to ok after the load") {
            try gateway.comeBack()
            try gateway.setMode(.ok)
        }
    }

    /// Rewrites live keys (the retry backoff, the log level) and sends SIGHUP through the holder.
    private func reload() throws {
        let count = reloads.withLock { $0 += 1; return $0 }
        try stack.rewriteConfig([
            "executor": ["retry_backoff": count % 2 == 1 ? "200ms" : "100ms"],
            "log": ["level": count % 2 == 1 ? "notice" : "info"],
        ])
        kill(holder, SIGHUP)
    }

    /// SIGUSR2 to the holder: a new orderd beside the old one, the old one stopped once the new one is ready.
    private func restart() throws {
        let before = orderdPIDs
        let began = ContinuousClock.now
        let previous = context.value
        context.mutate { $0 = "restart in progress (\(previous))" }
        defer { context.mutate { $0 = previous } }
        kill(holder, SIGUSR2)
        let deadline = began + .seconds(30)
        while ContinuousClock.now < deadline {
            let now = orderdPIDs
            if now.count == 1 && !before.contains(now[0]) {
                restarts.mutate { $0.append(ContinuousClock.now - began) }
                return
            }
            usleep(50_000)
        }
        throw RawHTTP.Failure(description: "restart: orderd processes \(before) became \(orderdPIDs) within 30 s")
    }

    /// Pauses the clients, lets the outbox settle with the gateway ok, and measures the process that will run
    /// to the end, idle: the counts the end is compared with.
    private func measureBaseline() {
        let previous = context.value
        context.mutate { $0 = "baseline (load paused)" }
        gate.mutate { $0.paused = true }
        defer {
            gate.mutate { $0.paused = false }
            resumedAt.mutate { $0 = elapsed }
            context.mutate { $0 = previous }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while gate.value.active > 0 && ContinuousClock.now < deadline { usleep(10_000) }
        do {
            try gateway.comeBack()
            try gateway.setMode(.ok)
        } catch {
            conductorErrors.mutate { $0.append("baseline: gateway: \(error)") }
        }
        let settled = settle(timeout: .seconds(60))
        usleep(2_000_000)
        guard let pid = orderdPIDs.last, let measured = Resources.measure(pid, gatewayPort: gateway.port, databasePath: stack.databasePath) else {
            conductorErrors.mutate { $0.append("baseline: no orderd process to measure") }
            return
        }
        baseline.mutate { $0 = measured }
        print("soak baseline at \(Int(elapsed)) s: pid \(pid), fds \(measured.fds) \(measured.fdKinds.sorted { $0.key < $1.key }), threads \(measured.threads)")
        baselineNote.mutate { $0 = settled ? "outbox settled" : "outbox NOT settled within 60 s" }
    }

    // MARK: - Reading the outcome from the outside

    /// `sqlite3` on the database (read only queries beside the running orderd, WAL mode): rows of columns.
    func query(_ sql: String) throws -> [[String]] {
        let result = try Stack.run("/usr/bin/sqlite3", ["-batch", "-noheader", "-separator", "\u{1f}", "-newline", "\u{1e}", stack.databasePath, sql])
        guard result.status == 0 else { throw RawHTTP.Failure(description: "sqlite3 \(sql): \(result.output)") }
        return result.output.split(separator: "\u{1e}", omittingEmptySubsequences: true).map {
            $0.split(separator: "\u{1f}", omittingEmptySubsequences: false).map(String.init)
        }
    }

    func pendingTasks() -> Int? {
        (try? query("SELECT count(*) FROM tasks WHERE state = 'pending'"))?.first.flatMap { Int($0[0]) }
    }

    /// `/status`'s executor: tasks running and queued in memory.
    func executorBusy() -> Int? {
        guard let status = try? FollowUpIntegrationTests.status(stack), let executor = status["executor"] as? [String: Any],
              let running = executor["running"] as? Int, let queued = executor["queued"] as? Int else { return nil }
        return running + queued
    }

    /// Waits until no task is pending in the outbox and the executor is idle; false on timeout.
    func settle(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if pendingTasks() == 0 && executorBusy() == 0 { return true }
            usleep(250_000)
        }
        return false
    }
}

extension Locked {
    /// Runs `body` under the lock and returns what it returns.
    func withLock<T>(_ body: (inout Value) -> T) -> T {
        var result: T?
        mutate { result = body(&$0) }
        return result!
    }
}
