// The executor micro-benchmark: no-op tasks per second and trySubmit latency. Its figures only: bench/run.sh runs
// bench/go/executor (Go's buffered channel, the same measures) right after it and divides one by the other
// (bench/executor_table.py), so no Go figure is written in here.
//
//     swift run -c release --scratch-path .build-exec executor-bench [--tasks N] [--workers W] [--capacity C]
//         [--runs R] [--search-us S] [--batch-limit B] [--throughput-only]
//
// Figures, not assertions: on a shared machine they vary from run to run (see the load average it prints).

import Logging
import OrderdExecutor
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Options

struct Options {
    var tasks = 1_000_000
    var workers = 5
    var capacity = 1024
    var runs = 3
    /// `searchBeforeParking` in microseconds; nil keeps the executor's default.
    var searchMicroseconds: Int?
    /// `batchLimit`; nil keeps the executor's default.
    var batchLimit: Int?
    var throughputOnly = false
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    func fail(_ message: String) -> Never {
        writeError(
            message + "\nusage: executor-bench [--tasks N] [--workers W] [--capacity C] [--runs R] [--search-us S]"
                + " [--batch-limit B] [--throughput-only]\n")
        exit(2)
    }
    while let name = arguments.popFirst() {
        if name == "--throughput-only" {
            options.throughputOnly = true
            continue
        }
        guard let text = arguments.popFirst(), let value = Int(text), value >= 0 else {
            fail("Missing or invalid value for '\(name)'; expected a non-negative integer.")
        }
        switch name {
        case "--tasks": options.tasks = max(1, value)
        case "--workers": options.workers = value
        case "--capacity": options.capacity = value
        case "--runs": options.runs = max(1, value)
        case "--search-us": options.searchMicroseconds = value
        case "--batch-limit": options.batchLimit = value
        default: fail("Unknown option '\(name)'.")
        }
    }
    return options
}

// MARK: - Plumbing

/// Writes to fd 2 (`stderr` is global mutable state that Swift 6 refuses).
func writeError(_ text: String) {
    _ = text.withCString { write(2, $0, strlen($0)) }
}

@inline(__always)
func nanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}

/// `finished` calls so far.
let finishedCount = Atomic<Int>(0)

/// A task that does nothing but count its `finished` call. No stored reference, like a Go `func()` literal without
/// captures: copying it costs no reference counting.
struct NoOp: ExecutorTask {
    var timeout: Duration { .seconds(60) }
    var kind: String { "noop" }
    func run() async throws {}
    func finished(_ outcome: ExecutorOutcome) { finishedCount.add(1, ordering: .releasing) }
}

/// The sum of the values of every `Closure` task that ran: what the throughput producer waits for, as the Go
/// program waits for its `total`.
let closureTotal = Atomic<Int>(0)

/// The throughput measure's task: a closure made for it that captures its own value, Go's `func() { total.Add(v) }`,
/// so each task pays what a closure per task costs (its context allocated, then released after it ran).
struct Closure: ExecutorTask {
    let body: @Sendable () -> Void
    var timeout: Duration { .seconds(60) }
    var kind: String { "closure" }
    func run() async throws { body() }
    func finished(_ outcome: ExecutorOutcome) {}
}

/// When the latest `WakeProbe` body started (CLOCK_MONOTONIC ns).
let probeStarted = Atomic<UInt64>(0)

/// Records when its body starts: the end of a wake-up.
struct WakeProbe: ExecutorTask {
    var timeout: Duration { .seconds(60) }
    var kind: String { "wake" }
    func run() async throws { probeStarted.store(nanoseconds(), ordering: .relaxed) }
    func finished(_ outcome: ExecutorOutcome) { finishedCount.add(1, ordering: .releasing) }
}

/// Occupies a worker until its gate opens.
struct Blocker: ExecutorTask {
    let gate: Gate
    var timeout: Duration { .seconds(60) }
    var kind: String { "blocker" }
    func run() async throws { await gate.wait() }
    func finished(_ outcome: ExecutorOutcome) { finishedCount.add(1, ordering: .releasing) }
}

final class Gate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

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

final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Runs `body` on a plain pthread (like a FastCGI request thread) and returns its result.
func onPThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
    let result = Mutex<T?>(nil)
    let box = Unmanaged.passRetained(ThreadBody { result.withLock { $0 = body() } }).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(
        &thread, nil,
        { raw in
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
    precondition(status == 0, "pthread_create failed with \(status)")
    pthread_join(thread, nil)
    return result.withLock { $0! }
}

/// Spins (yielding the CPU) until `condition` holds; says so on stderr if that takes more than 10 s.
func waitUntil(_ what: @autoclosure () -> String = "", _ condition: () -> Bool) {
    let start = nanoseconds()
    var warned = false
    while !condition() {
        sched_yield()
        if !warned, nanoseconds() - start > 10_000_000_000 {
            warned = true
            writeError("executor-bench: still waiting after 10 s: \(what())\n")
        }
    }
}

struct Percentiles {
    var p50: UInt64
    var p99: UInt64
    var p999: UInt64

    init(_ samples: [UInt64]) {
        let sorted = samples.sorted()
        func at(_ fraction: Double) -> UInt64 { sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))] }
        p50 = at(0.50)
        p99 = at(0.99)
        p999 = at(0.999)
    }

    var text: String { "\(p50) / \(p99) / \(p999)" }
}

func format(_ value: Double) -> String {
    let scaled = (value * 100).rounded() / 100
    return "\(scaled)"
}

// MARK: - Benchmarks

let options = parseOptions()
let logger = Logger(label: "executor-bench", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs `body` against a started executor on a plain thread, then stops the executor.
func withExecutor<T: Sendable>(_ body: @escaping @Sendable (BoundedExecutor) -> T) -> T {
    var configuration = BoundedExecutor.Configuration(workers: options.workers, queueCapacity: options.capacity)
    if let microseconds = options.searchMicroseconds {
        configuration.searchBeforeParking = .microseconds(microseconds)
    }
    if let batchLimit = options.batchLimit { configuration.batchLimit = batchLimit }
    let executor = BoundedExecutor(configuration: configuration, logger: logger)
    executor.start()
    finishedCount.store(0, ordering: .relaxed)
    let result = onPThread { body(executor) }
    let report = executor.stop(drainDeadline: .now + .seconds(10))
    precondition(report.drained, "the benchmark's executor did not drain: \(report)")
    return result
}

struct Throughput: Sendable {
    var tasksPerSecond: Double
    var retries: Int
    var wakeups: Int
}

/// 1. One producer thread submits `tasks` tasks as fast as it can (on a full queue: yield and retry), each a closure
/// made for it that adds its own value to a sum (`Closure`, the Go program's shape); time until every one ran.
func throughput(tasks: Int) -> Throughput {
    withExecutor { executor in
        closureTotal.store(0, ordering: .relaxed)
        var want = 0
        /// Submits a task adding `value` (yielding while the queue is full); the retries it took.
        func submit(_ value: Int) -> Int {
            want &+= value
            let task = Closure { closureTotal.add(value, ordering: .relaxed) }
            var retries = 0
            while !executor.trySubmit(task) {
                retries += 1
                sched_yield()
            }
            return retries
        }
        for value in 1...10_000 { _ = submit(value) }  // warm-up
        waitUntil("warm-up, \(executor.statistics)") { closureTotal.load(ordering: .acquiring) == want }
        let wakeupsBefore = executor.statistics.wakeups
        var retries = 0
        let start = nanoseconds()
        for value in 1...tasks { retries += submit(value) }
        waitUntil("throughput, \(executor.statistics)") { closureTotal.load(ordering: .acquiring) == want }
        let elapsed = nanoseconds() - start
        return Throughput(
            tasksPerSecond: Double(tasks) / (Double(elapsed) / 1e9), retries: retries,
            wakeups: executor.statistics.wakeups - wakeupsBefore)
    }
}

/// 2a. Submit one task, wait until it finished, repeat. `parkedFirst`: also wait until every worker parked again,
/// so each submit has to wake one (the cold path); otherwise the worker that just finished may still be searching.
func idleLatency(samples count: Int, parkedFirst: Bool) -> [UInt64] {
    withExecutor { executor in
        let task = NoOp()
        let workers = options.workers
        var samples = [UInt64]()
        samples.reserveCapacity(count)
        let warmUp = 1_000
        for index in 0..<(count + warmUp) {
            if parkedFirst {
                waitUntil("parked workers, \(executor.statistics)") { executor.statistics.idleWorkers == workers }
            }
            let before = nanoseconds()
            let accepted = executor.trySubmit(task)
            let after = nanoseconds()
            precondition(accepted)
            if index >= warmUp { samples.append(after - before) }
            waitUntil("idle, \(executor.statistics)") { finishedCount.load(ordering: .acquiring) == index + 1 }
        }
        return samples
    }
}

/// 2b. Busy workers: every worker held by a blocked task, the queue has room; time each submit of a burst, then let
/// it all drain. Round 0 warms up.
func busyLatency(rounds: Int, burst: Int) -> [UInt64] {
    withExecutor { executor in
        let task = NoOp()
        let workers = options.workers
        var samples = [UInt64]()
        samples.reserveCapacity(rounds * burst)
        var expected = 0
        for round in 0...rounds {
            let gate = Gate()
            for _ in 0..<workers { precondition(executor.trySubmit(Blocker(gate: gate))) }
            waitUntil("blockers, \(executor.statistics)") {
                let statistics = executor.statistics
                return statistics.running == workers && statistics.queued == 0
            }
            for _ in 0..<burst {
                let before = nanoseconds()
                let accepted = executor.trySubmit(task)
                let after = nanoseconds()
                precondition(accepted)
                if round > 0 { samples.append(after - before) }
            }
            gate.open()
            expected += workers + burst
            waitUntil("busy, \(executor.statistics)") { finishedCount.load(ordering: .acquiring) == expected }
        }
        return samples
    }
}

/// 2c. Go's "wake" shape: 200 µs apart, with every worker parked, submit one task and time from just before the
/// submit until its body starts on the woken worker. The first 1000 warm up.
func wakeLatency(samples count: Int) -> [UInt64] {
    withExecutor { executor in
        let workers = options.workers
        var samples = [UInt64]()
        samples.reserveCapacity(count)
        let warmUp = 1_000
        for index in 0..<(count + warmUp) {
            usleep(200)
            waitUntil("parked workers, \(executor.statistics)") { executor.statistics.idleWorkers == workers }
            let before = nanoseconds()
            let accepted = executor.trySubmit(WakeProbe())
            precondition(accepted)
            waitUntil("woken, \(executor.statistics)") { finishedCount.load(ordering: .acquiring) == index + 1 }
            if index >= warmUp { samples.append(probeStarted.load(ordering: .relaxed) &- before) }
        }
        return samples
    }
}

func loadAverage() -> String {
    var loads = [Double](repeating: 0, count: 3)
    guard getloadavg(&loads, 3) == 3 else { return "?" }
    return loads.map { format($0) }.joined(separator: " ")
}

// MARK: - Report

let loadBefore = loadAverage()
let runs = (0..<options.runs).map { _ in throughput(tasks: options.tasks) }
let rates = runs.map(\.tasksPerSecond).sorted()
let median = rates[rates.count / 2]
let ratesText = "\(format(median / 1e6))M (\(format(rates.first! / 1e6))–\(format(rates.last! / 1e6))M)"
if options.throughputOnly {
    print("no-op tasks/s: \(ratesText); retries \(runs.map(\.retries)); wake-ups \(runs.map(\.wakeups))")
    exit(0)
}
let warm = Percentiles(idleLatency(samples: 20_000, parkedFirst: false))
let cold = Percentiles(idleLatency(samples: 20_000, parkedFirst: true))
let burst = min(options.capacity, 1_000)
let busy = Percentiles(busyLatency(rounds: max(1, 20_000 / burst), burst: burst))
let wakes = 10_000
let wake = Percentiles(wakeLatency(samples: wakes))

let search = options.searchMicroseconds.map { "\($0) µs" } ?? "default"
let batch = options.batchLimit.map { "\($0)" } ?? "default"

print(
    """
    BoundedExecutor micro-benchmark: \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPUs (load average \(loadBefore) before, \
    \(loadAverage()) after), \(options.workers) workers, capacity \(options.capacity), search before parking \(search), batch limit \(batch); \
    each throughput task a closure capturing its own value

    | measure | BoundedExecutor |
    |---|---|
    | no-op tasks/s, 1 producer thread, \(options.tasks) tasks × \(options.runs) runs: median (min–max) | \(ratesText) |
    | producer retries on a full queue / worker wake-ups, per run | \(runs.map { "\($0.retries)/\($0.wakeups)" }.joined(separator: ", ")) |
    | trySubmit ns p50 / p99 / p999: submit 1, wait for it, repeat | \(warm.text) |
    | trySubmit ns p50 / p99 / p999: every worker parked (wakes one) | \(cold.text) |
    | trySubmit ns p50 / p99 / p999: workers busy, queue has room (burst of \(burst)) | \(busy.text) |
    | wake ns p50 / p99 / p999: send to the parked worker running it (\(wakes) wakes, 200 µs apart) | \(wake.text) |
    """)
