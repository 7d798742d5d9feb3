// The executor micro-benchmark: no-op tasks per second and trySubmit latency, next to Go's reference figures.
//
//     swift run -c release --scratch-path .build-exec executor-bench [--tasks N] [--workers W] [--capacity C]
//
// Figures, not assertions: on a shared machine they vary from run to run.

import Logging
import OrderdCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Arguments

struct Options {
    var tasks = 1_000_000
    var workers = 5
    var capacity = 1024
    var runs = 3
    /// `searchBeforeParking` in microseconds; nil keeps the executor's default.
    var searchMicroseconds: Int?
    var throughputOnly = false
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    func fail(_ message: String) -> Never {
        let text = message + "\nusage: executor-bench [--tasks N] [--workers W] [--capacity C] [--runs R] [--search-us S]\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
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
        case "--tasks": options.tasks = value
        case "--workers": options.workers = value
        case "--capacity": options.capacity = value
        case "--runs": options.runs = max(1, value)
        case "--search-us": options.searchMicroseconds = value
        default: fail("Unknown option '\(name)'.")
        }
    }
    return options
}

// MARK: - Plumbing

@inline(__always)
func nanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}

/// `finished` calls of no-op tasks.
let noOpsDone = Atomic<Int>(0)

/// A task that does nothing but count its `finished` call. No stored reference, like a Go `func()` literal with
/// no captures: copying it costs no reference counting.
struct NoOp: ExecutorTask {
    var timeout: Duration { .seconds(60) }
    var kind: String { "noop" }
    func run() async throws {}
    func finished(_ outcome: ExecutorOutcome) { noOpsDone.add(1, ordering: .relaxed) }
}

/// Occupies a worker until the gate opens.
struct Blocker: ExecutorTask {
    let gate: Gate
    var timeout: Duration { .seconds(60) }
    var kind: String { "blocker" }
    func run() async throws { await gate.wait() }
    func finished(_ outcome: ExecutorOutcome) { noOpsDone.add(1, ordering: .relaxed) }
}

final class Gate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiters: [UnsafeContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
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

/// Runs `body` on a plain pthread (like a request thread) and waits for it.
func onPThread(_ body: @escaping @Sendable () -> Void) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    #if canImport(Glibc)
    var thread = pthread_t()
    #else
    var thread: pthread_t?
    #endif
    let status = pthread_create(
        &thread, nil,
        { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
    precondition(status == 0, "pthread_create failed: \(status)")
    #if canImport(Glibc)
    pthread_join(thread, nil)
    #else
    pthread_join(thread!, nil)
    #endif
}

func waitUntil(_ condition: () -> Bool) {
    while !condition() { sched_yield() }
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

/// Runs `body` on a plain thread and returns what it produced.
func measure<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
    let result = Mutex<T?>(nil)
    onPThread {
        let value = body()
        result.withLock { $0 = value }
    }
    return result.withLock { $0! }
}

func format(_ value: Double) -> String {
    let scaled = (value * 100).rounded() / 100
    return "\(scaled)"
}

// MARK: - Benchmarks

let options = parseOptions()
let logger = Logger(label: "executor-bench", factory: { _ in SwiftLogNoOpLogHandler() })

func makeExecutor() -> BoundedExecutor {
    var configuration = BoundedExecutor.Configuration(workers: options.workers, queueCapacity: options.capacity)
    if let microseconds = options.searchMicroseconds {
        configuration.searchBeforeParking = .microseconds(microseconds)
    }
    let executor = BoundedExecutor(configuration: configuration, logger: logger)
    executor.start()
    return executor
}

struct Throughput: Sendable {
    var tasksPerSecond: Double
    var retries: Int
}

/// 1. One producer thread submits `tasks` no-op tasks as fast as it can; time until every `finished` arrived.
func throughput(tasks: Int) -> Throughput {
    let executor = makeExecutor()
    defer { _ = executor.stop(drainDeadline: .now + .seconds(10)) }
    let task = NoOp()
    return measure {
        // Warm up the workers and the ring.
        for _ in 0..<10_000 { while !executor.trySubmit(task) { sched_yield() } }
        waitUntil { noOpsDone.load(ordering: .relaxed) == 10_000 }
        noOpsDone.store(0, ordering: .relaxed)

        var retries = 0
        let start = nanoseconds()
        for _ in 0..<tasks {
            while !executor.trySubmit(task) {
                retries += 1
                sched_yield()
            }
        }
        waitUntil { noOpsDone.load(ordering: .acquiring) == tasks }
        let elapsed = nanoseconds() - start
        print("wakeups", executor.statistics.wakeups)
        return Throughput(tasksPerSecond: Double(tasks) / (Double(elapsed) / 1e9), retries: retries)
    }
}

/// 2a. Idle workers: submit one task, wait until it finished and the worker parked again, repeat.
func idleLatency(samples count: Int) -> [UInt64] {
    let executor = makeExecutor()
    defer { _ = executor.stop(drainDeadline: .now + .seconds(10)) }
    let task = NoOp()
    let workers = options.workers
    return measure {
        noOpsDone.store(0, ordering: .relaxed)
        var samples = [UInt64]()
        samples.reserveCapacity(count)
        waitUntil { executor.statistics.idleWorkers == workers }
        for index in 0..<(count + 1_000) {
            let before = nanoseconds()
            let accepted = executor.trySubmit(task)
            let after = nanoseconds()
            precondition(accepted)
            if index >= 1_000 { samples.append(after - before) }  // the first 1000 warm up
            waitUntil { noOpsDone.load(ordering: .relaxed) == index + 1 }
            waitUntil { executor.statistics.idleWorkers == workers }
        }
        return samples
    }
}

/// 2b. Busy workers: every worker blocked, the queue has room; time a burst of submits, then let it all drain.
func busyLatency(rounds: Int, burst: Int) -> [UInt64] {
    let executor = makeExecutor()
    defer { _ = executor.stop(drainDeadline: .now + .seconds(10)) }
    let task = NoOp()
    let workers = options.workers
    return measure {
        noOpsDone.store(0, ordering: .relaxed)
        var samples = [UInt64]()
        samples.reserveCapacity(rounds * burst)
        var expected = 0
        for round in 0..<(rounds + 1) {
            let gate = Gate()
            for _ in 0..<workers { precondition(executor.trySubmit(Blocker(gate: gate))) }
            waitUntil {
                let statistics = executor.statistics
                return statistics.running == workers && statistics.queued == 0
            }
            for _ in 0..<burst {
                let before = nanoseconds()
                let accepted = executor.trySubmit(task)
                let after = nanoseconds()
                precondition(accepted)
                if round > 0 { samples.append(after - before) }  // round 0 warms up
            }
            gate.open()
            expected += workers + burst
            waitUntil { noOpsDone.load(ordering: .relaxed) == expected }
        }
        return samples
    }
}

// MARK: - Report

let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
let runs = (0..<options.runs).map { _ in throughput(tasks: options.tasks) }
let rates = runs.map(\.tasksPerSecond).sorted()
let median = rates[rates.count / 2]
if options.throughputOnly {
    print("no-op tasks/s: \(rates.map { format($0 / 1e6) + "M" }.joined(separator: " ")); retries \(runs.map(\.retries))")
    exit(0)
}
let idle = Percentiles(idleLatency(samples: 20_000))
let burst = min(options.capacity, 1_000)
let busy = Percentiles(busyLatency(rounds: max(1, 20_000 / burst), burst: burst))

let goTasksPerSecond = 6_000_000.0
let goSendP99 = 1_000.0

print(
    """
    BoundedExecutor micro-benchmark: \(cpus) CPUs, \(options.workers) workers, capacity \(options.capacity), \
    \(options.tasks) no-op tasks x \(options.runs) runs

    | measure | BoundedExecutor | Go reference (this machine) | ratio |
    |---|---|---|---|
    | no-op tasks/s, 1 producer thread (median; min–max) | \(format(median / 1e6))M (\(format(rates.first! / 1e6))–\(format(rates.last! / 1e6))M) | ~\(format(goTasksPerSecond / 1e6))M (buffered chan 1024, 5 goroutines) | \(format(median / goTasksPerSecond)) |
    | producer retries on a full queue (per run) | \(runs.map { String($0.retries) }.joined(separator: ", ")) | – | – |
    | trySubmit p50 / p99 / p999 ns, idle workers (hand-off) | \(idle.text) | send p99 ~\(Int(goSendP99)) | p99 \(format(Double(idle.p99) / goSendP99)) |
    | trySubmit p50 / p99 / p999 ns, busy workers (queue push) | \(busy.text) | send p99 ~\(Int(goSendP99)) | p99 \(format(Double(busy.p99) / goSendP99)) |
    """)
