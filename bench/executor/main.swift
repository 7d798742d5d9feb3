// The executor micro-benchmark: no-op tasks per second and trySubmit latency. Its figures only: bench/run.sh runs
// bench/go/executor (Go's buffered channel, the same measures) right after it and divides one by the other
// (bench/executor_table.py), so no Go figure is written in here. It also runs the throughput measure on a plain
// pool of threads (`PlainPool`, none of the executor's contract), so that the report says what the task's shape
// allows in Swift at all.
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

/// The same work as `Closure` with the value stored in the task itself: a struct of one `Int` fits the existential's
/// inline buffer, so submitting it allocates nothing (Go's counterpart: a channel of `int64`, not of closures).
struct Add: ExecutorTask {
    let value: Int
    var timeout: Duration { .seconds(60) }
    var kind: String { "add" }
    func run() async throws { closureTotal.add(value, ordering: .relaxed) }
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

/// Starts `body` on a plain pthread (like a FastCGI request thread); join it.
func startPThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(
        &thread, nil,
        { raw in
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
    precondition(status == 0, "pthread_create failed with \(status)")
    return thread
}

/// Runs `body` on a plain pthread and returns its result.
func onPThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
    let result = Mutex<T?>(nil)
    pthread_join(startPThread { result.withLock { $0 = body() } }, nil)
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
/// made for it that adds its own value to a sum (`Closure`, the Go program's shape), or with `values` the same value
/// stored in the task (`Add`, no allocation); time until every one ran.
func throughput(tasks: Int, values: Bool = false) -> Throughput {
    withExecutor { executor in
        closureTotal.store(0, ordering: .relaxed)
        var want = 0
        /// Submits a task adding `value` (yielding while the queue is full); the retries it took.
        func submit(_ value: Int) -> Int {
            want &+= value
            let task: any ExecutorTask = values ? Add(value: value) : Closure { closureTotal.add(value, ordering: .relaxed) }
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

/// 3. The ceiling of this measure on this machine: the plainest bounded pool of the same shape (5 threads of our own,
/// one mutex and condition, a ring of `capacity`, a worker takes up to 32 queued items under one lock and spins
/// about 2,000 loads before it sleeps; a producer that finds the ring full yields and tries again, as this file's
/// producer does with `BoundedExecutor`), with none of `BoundedExecutor`'s contract: no deadline, cancellation,
/// outcome, counter or stop report. Generic over the item, so that a closure item costs one call of the closure per
/// task. Not used by orderd: it only tells what the executor's figures are up against, by task shape.
final class PlainPool<Item: PlainItem>: @unchecked Sendable {
    // Invariant: `ring`, `head`, `count`, `idle`, `spinning`, `wakePending` and `stopping` are touched only with
    // `mutex` held; `queued` mirrors `count` for the spinning workers' lock-free look.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let notEmpty = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let ring: UnsafeMutablePointer<Item?>
    private let capacity: Int
    private var head = 0, count = 0, idle = 0, spinning = 0, stopping = false
    /// A sleeper was signalled and has not run yet: nobody signals another meanwhile (one wake-up at a time, each
    /// woken worker waking the next while work is left, as Go's scheduler wakes its threads).
    private var wakePending = false
    private let queued = Atomic<Int>(0)
    private var threads: [pthread_t] = []

    init(workers: Int, capacity: Int) {
        self.capacity = capacity
        ring = .allocate(capacity: capacity)
        ring.initialize(repeating: nil, count: capacity)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        pthread_mutex_init(mutex, &attributes)
        pthread_cond_init(notEmpty, nil)
        threads = (0..<workers).map { _ in startPThread { [self] in work() } }
    }

    /// After `stop` (the worker threads hold the pool until they exit).
    deinit {
        ring.deinitialize(count: capacity)
        ring.deallocate()
        pthread_cond_destroy(notEmpty)
        pthread_mutex_destroy(mutex)
        notEmpty.deallocate()
        mutex.deallocate()
    }

    /// False when the ring is full.
    func trySubmit(_ item: Item) -> Bool {
        pthread_mutex_lock(mutex)
        guard count < capacity else {
            pthread_mutex_unlock(mutex)
            return false
        }
        ring[(head + count) % capacity] = item
        count += 1
        queued.store(count, ordering: .relaxed)
        let wake = idle > 0 && spinning == 0 && !wakePending
        if wake { wakePending = true }
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(notEmpty) }
        return true
    }

    private func work() {
        var batch: [Item] = []
        batch.reserveCapacity(32)
        pthread_mutex_lock(mutex)
        while true {
            if count == 0 && !stopping {
                spinning += 1
                pthread_mutex_unlock(mutex)
                var spins = 0
                while queued.load(ordering: .relaxed) == 0 && spins < 2_000 {
                    spins += 1
                    if spins % 64 == 0 { sched_yield() }
                }
                pthread_mutex_lock(mutex)
                spinning -= 1
            }
            while count == 0 && !stopping {
                idle += 1
                pthread_cond_wait(notEmpty, mutex)
                idle -= 1
                wakePending = false
            }
            if count == 0 { break }
            let take = max(1, min(32, count / (idle + 1)))
            for _ in 0..<take {
                batch.append(ring[head].take()!)
                head = (head + 1) % capacity
            }
            count -= take
            queued.store(count, ordering: .relaxed)
            let wakeAnother = count > 0 && idle > 0 && spinning == 0 && !wakePending
            if wakeAnother { wakePending = true }
            pthread_mutex_unlock(mutex)
            if wakeAnother { pthread_cond_signal(notEmpty) }
            for item in batch { item.run() }
            batch.removeAll(keepingCapacity: true)
            pthread_mutex_lock(mutex)
        }
        pthread_mutex_unlock(mutex)
    }

    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(notEmpty)
        for thread in threads { pthread_join(thread, nil) }
    }
}

/// What a `PlainPool` runs: Go's closure capturing its value, or the value itself.
protocol PlainItem: Sendable { func run() }

struct ClosureItem: PlainItem {
    let body: @Sendable () -> Void
    func run() { body() }
}

struct ValueItem: PlainItem {
    let value: Int
    func run() { closureTotal.add(value, ordering: .relaxed) }
}

/// Tasks per second of `PlainPool` fed by one plain thread, in Go's measure's shape: a closure per task capturing its
/// own value (`closures`), or the value itself as the item.
func plainThroughput(tasks: Int, closures: Bool) -> Double {
    onPThread {
        closures
            ? feed(tasks: tasks) { value in ClosureItem { closureTotal.add(value, ordering: .relaxed) } }
            : feed(tasks: tasks) { ValueItem(value: $0) }
    }
}

/// Submits `item(1)` ... `item(tasks)` to a fresh `PlainPool`; tasks per second until every one ran.
func feed<Item: PlainItem>(tasks: Int, item: (Int) -> Item) -> Double {
    let pool = PlainPool<Item>(workers: options.workers, capacity: options.capacity)
    defer { pool.stop() }
    closureTotal.store(0, ordering: .relaxed)
    var want = 0
    let start = nanoseconds()
    for value in 1...tasks {
        want &+= value
        let next = item(value)
        while !pool.trySubmit(next) { sched_yield() }
    }
    waitUntil("plain pool") { closureTotal.load(ordering: .acquiring) == want }
    return Double(tasks) / (Double(nanoseconds() - start) / 1e9)
}

func loadAverage() -> String {
    var loads = [Double](repeating: 0, count: 3)
    guard getloadavg(&loads, 3) == 3 else { return "?" }
    return loads.map { format($0) }.joined(separator: " ")
}

// MARK: - Report

let loadBefore = loadAverage()
/// "median (min–max)" of tasks-per-second figures, in millions.
func ratesText(_ rates: [Double]) -> String {
    let sorted = rates.sorted()
    return "\(format(sorted[sorted.count / 2] / 1e6))M (\(format(sorted.first! / 1e6))–\(format(sorted.last! / 1e6))M)"
}

let runs = (0..<options.runs).map { _ in throughput(tasks: options.tasks) }
let closureRates = ratesText(runs.map(\.tasksPerSecond))
if options.throughputOnly {
    print("no-op tasks/s: \(closureRates); retries \(runs.map(\.retries)); wake-ups \(runs.map(\.wakeups))")
    exit(0)
}
let warm = Percentiles(idleLatency(samples: 20_000, parkedFirst: false))
let cold = Percentiles(idleLatency(samples: 20_000, parkedFirst: true))
let burst = min(options.capacity, 1_000)
let busy = Percentiles(busyLatency(rounds: max(1, 20_000 / burst), burst: burst))
let wakes = 10_000
let wake = Percentiles(wakeLatency(samples: wakes))
let valueRates = ratesText((0..<options.runs).map { _ in throughput(tasks: options.tasks, values: true).tasksPerSecond })
let plainClosures = ratesText((0..<options.runs).map { _ in plainThroughput(tasks: options.tasks, closures: true) })
let plainValues = ratesText((0..<options.runs).map { _ in plainThroughput(tasks: options.tasks, closures: false) })

let search = options.searchMicroseconds.map { "\($0) µs" } ?? "default"
let batch = options.batchLimit.map { "\($0)" } ?? "default"

print(
    """
    BoundedExecutor micro-benchmark: \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPUs (load average \(loadBefore) before, \
    \(loadAverage()) after), \(options.workers) workers, capacity \(options.capacity), search before parking \(search), batch limit \(batch); \
    each throughput task a closure capturing its own value, unless its row says it is the value itself

    | measure | BoundedExecutor |
    |---|---|
    | no-op tasks/s, 1 producer thread, \(options.tasks) tasks × \(options.runs) runs: median (min–max) | \(closureRates) |
    | producer retries on a full queue / worker wake-ups, per run | \(runs.map { "\($0.retries)/\($0.wakeups)" }.joined(separator: ", ")) |
    | trySubmit ns p50 / p99 / p999: submit 1, wait for it, repeat | \(warm.text) |
    | trySubmit ns p50 / p99 / p999: every worker parked (wakes one) | \(cold.text) |
    | trySubmit ns p50 / p99 / p999: workers busy, queue has room (burst of \(burst)) | \(busy.text) |
    | wake ns p50 / p99 / p999: send to the parked worker running it (\(wakes) wakes, 200 µs apart) | \(wake.text) |
    | tasks/s, each task a value of its own (no allocation), 1 producer thread, \(options.tasks) tasks × \(options.runs) runs: median (min–max) | \(valueRates) |
    | a plain pool of \(options.workers) threads (no deadline, cancellation or outcome), 1 producer thread: tasks/s, a closure per task | \(plainClosures) |
    | the same plain pool: tasks/s, a value per task (no allocation) | \(plainValues) |
    """)
