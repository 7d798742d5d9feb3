import OrderdExecutor
import OrderdOrders
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// The audit file: one JSON line per order, appended and made durable (`fdatasync`) before the task counts
/// as done.
///
/// Writes happen on a thread of our own, never on Swift's cooperative pool, and every line queued by then shares
/// one `write` and one `fdatasync` (group commit, as for orders). Lines carry their task id: after a crash an
/// order's line may appear twice (at-least-once), and readers drop repeats by `task_id`.
///
/// Audit tasks wait here, not on an executor worker (`enqueue`): a worker waiting out an fsync would cap a batch
/// at the executor's worker count (five by default) and the audit at a few batches per fsync, far below the order
/// rate; queued here, a batch holds every line that came in during the previous fsync. The queue is bounded
/// (`capacity`): a line that finds it full is refused, and its task stays pending in the outbox.
///
/// At most one round (write + `fdatasync`) per `interval`: lines that come in during a round and the rest of its
/// interval wait for the next round without waking the writer. At a few thousand orders a second that turns a
/// wake-up and an fsync per line (each line found the writer idle and woke it) into one per interval, and delays
/// a line's task being counted done by at most the interval; the order's answer never waits for it. 10 ms by
/// default: against 2 ms (bench/compare.sh, 10 rounds) the audit writer's CPU per order fell from 11–19 to 7–12 µs,
/// since a round costs about the same however many lines it writes; a line's task stays pending up to 10 ms
/// longer, which nobody sees (after a crash the line is written again anyway, see above).
///
/// `reopen()` (at every SIGHUP) opens the path again, for logrotate: it renames the file, then reloads orderd,
/// and the next lines go to a new file at the path.
package final class AuditLog: Sendable {
    /// How a queued line ended.
    package enum LineOutcome: Sendable {
        case written
        case failed(FollowUpError)
        /// Its deadline passed while it waited: not written.
        case expired
    }

    private struct Entry: Sendable {
        /// Builds the line on the writer thread, so the thread that queues it (a request thread, after the
        /// answer) only hands it over.
        var line: @Sendable () -> [UInt8]
        var deadline: ContinuousClock.Instant?
        var done: @Sendable (LineOutcome) -> Void
    }

    private struct State: Sendable {
        var pending: [Entry] = []
        var closing = false
        /// The writer is in a round or the rest of its interval: it comes back for the queue by itself.
        var busy = false
        var rounds = 0
        var reopensAsked = 0
        var reopensDone = 0
        var reopenFailure: String?
    }

    let path: String
    /// Lines that may wait at once; more are refused.
    package let capacity: Int
    /// The shortest time from the start of one round to the start of the next.
    package let interval: Duration
    /// Lines queued that end the writer's rest early.
    private var halfFull: Int { max(1, capacity / 2) }
    /// A pthread mutex with a condition: reopen() waits on it for the writer's answer.
    private let state = PThreadLocked(State())
    private let writer = BackgroundThread(name: "orderd-audit")

    /// Opens (or creates, mode 0640) the file for appending; throws a message naming the path.
    package init(path: String, capacity: Int = 8192, interval: Duration = .milliseconds(10)) throws(FollowUpError) {
        self.path = path
        self.capacity = capacity
        self.interval = interval
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw .permanent("cannot open the audit file \(path): \(String(cString: strerror(errno)))")
        }
        do {
            try writer.start { [self] context in run(fd: fd, context) }
        } catch {
            Glibc.close(fd)
            throw .permanent("cannot start the audit writer thread: \(error)")
        }
    }

    /// Appends one line (a newline is added) and returns once it is on disk.
    func append(_ line: [UInt8]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let queued = enqueue(line, deadline: nil) { outcome in
                switch outcome {
                case .written: continuation.resume()
                case .failed(let error): continuation.resume(throwing: error)
                case .expired: continuation.resume(throwing: FollowUpError.transient("the audit line waited past its deadline"))
                }
            }
            if !queued { continuation.resume(throwing: FollowUpError.transient("the audit file is closed or its queue is full")) }
        }
    }

    /// Queues one line (a newline is added) without waiting; `done` gets its outcome once, on the writer thread
    /// (it must be quick). False, and `done` is never called, when the file is closed or `capacity` lines wait.
    /// A line whose `deadline` has passed when the writer takes it is not written (`.expired`).
    package func enqueue(
        _ line: [UInt8], deadline: ContinuousClock.Instant?, done: @escaping @Sendable (LineOutcome) -> Void
    ) -> Bool {
        enqueue(lineBuiltBy: { line }, deadline: deadline, done: done)
    }

    /// `enqueue(_:deadline:done:)` for a line the writer thread builds when it writes it (never, if it expired).
    package func enqueue(
        lineBuiltBy line: @escaping @Sendable () -> [UInt8], deadline: ContinuousClock.Instant?,
        done: @escaping @Sendable (LineOutcome) -> Void
    ) -> Bool {
        // Only a line that finds the writer idle and the queue empty wakes it: the writer takes the whole queue at
        // once and looks again before it waits, so the lines behind the first ride on its wake-up (under load, one
        // lock and no futex call per line). A queue half full wakes a resting writer early.
        let accepted: Bool?  // nil: refused; true: the writer needs a wake-up
        accepted = state.withLock { state in
            guard !state.closing, state.pending.count < capacity else { return nil }
            state.pending.append(Entry(line: line, deadline: deadline, done: done))
            return (state.pending.count == 1 && !state.busy) || state.pending.count == halfFull
        }
        if accepted == true { writer.wake() }
        return accepted != nil
    }

    /// Rounds written so far: one `write` and one `fdatasync` each.
    package var rounds: Int { state.withLock { $0.rounds } }

    /// Lines queued and not yet taken by the writer (those in the batch being written are not counted).
    /// Read by the metrics at scrape time, so the lines themselves pay nothing for it.
    package var queuedLines: Int { state.withLock { $0.pending.count } }

    /// Opens the path again (after logrotate renamed the file) and waits until the writer took the new file,
    /// at most 5 s. Returns nil, or why the old file is still in use.
    package func reopen() -> String? {
        let ticket = state.withLock { state -> Int? in
            guard !state.closing else { return nil }
            state.reopensAsked += 1
            return state.reopensAsked
        }
        guard let ticket else { return "the audit file is closed" }
        writer.wake()
        let deadline = ContinuousClock.now + .seconds(5)
        return state.withLock(waiting: { state, timedOut in
            if state.reopensDone >= ticket { return .done(state.reopenFailure) }
            if timedOut { return .done("the audit writer did not answer within 5 s") }
            return .wait(until: deadline)
        })
    }

    /// Writes what is queued, then closes the file.
    package func close() {
        state.withLock { $0.closing = true }
        writer.stop()
    }

    /// The writer's loop; `fd` is the writer's alone.
    private func run(fd initial: Int32, _ context: BackgroundThread.Context) {
        var fd = initial
        var running = true
        while true {
            let (taken, reopenTicket): ([Entry], Int?) = state.withLock { state in
                defer { state.pending = [] }
                state.busy = !state.pending.isEmpty
                return (state.pending, state.reopensDone < state.reopensAsked ? state.reopensAsked : nil)
            }
            if let reopenTicket {
                // Lines queued before the reopen go to the new file too: they were not written yet.
                let failure = reopenFile(replacing: &fd)
                state.withLock { state in
                    state.reopenFailure = failure
                    state.reopensDone = reopenTicket
                    self.state.broadcast()
                }
            }
            if taken.isEmpty {
                if reopenTicket != nil { continue }
                // close() refuses new lines before it stops the writer, so once the wait says stop, one more
                // look finds the last of them.
                if !running { break }
                running = context.wait()
                continue
            }
            let now = ContinuousClock.now
            var batch: [Entry] = []
            batch.reserveCapacity(taken.count)
            for entry in taken {
                if let deadline = entry.deadline, deadline <= now { entry.done(.expired) } else { batch.append(entry) }
            }
            if batch.isEmpty { continue }
            let roundStarted = now
            let lines = batch.map { $0.line() }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
            for line in lines {
                bytes += line
                bytes.append(UInt8(ascii: "\n"))
            }
            let failure = writeAll(bytes, to: fd) ?? (fdatasync(fd) == 0 ? nil : "fdatasync: \(String(cString: strerror(errno)))")
            state.withLock { $0.rounds += 1 }
            let outcome: LineOutcome = failure.map { .failed(.transient("audit file \(path): \($0)")) } ?? .written
            for entry in batch { entry.done(outcome) }
            // The rest of the interval. Only a half-full queue, a reopen or a stop ends it early (and the queue is
            // written once more before the end): a wake-up left from before the round (a line that found the
            // writer idle while it was already taking the queue) must not, or the round after it would start at
            // once and the lines coming in during that one would wait a whole interval (found by a test on a busy
            // machine).
            let next = roundStarted + interval
            while running, ContinuousClock.now < next, !restEndsEarly {
                running = context.wait(until: next)
            }
        }
        Glibc.close(fd)
    }

    /// Whether a resting writer has to come back before its interval ends: the queue is half full, or a reopen
    /// waits.
    private var restEndsEarly: Bool {
        state.withLock { $0.pending.count >= halfFull || $0.reopensDone < $0.reopensAsked }
    }

    /// The new file in place of the old, or the old one kept and why.
    private func reopenFile(replacing fd: inout Int32) -> String? {
        let fresh = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fresh >= 0 else { return "cannot open \(path): \(String(cString: strerror(errno)))" }
        Glibc.close(fd)
        fd = fresh
        return nil
    }

    /// nil on success, else what went wrong.
    private func writeAll(_ bytes: [UInt8], to fd: Int32) -> String? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return "write: \(String(cString: strerror(errno)))"
            }
            offset += written
        }
        return nil
    }
}

extension AuditLog: BackgroundService {
    package var name: String { "audit log" }

    /// Opened and started by init.
    package func start() {}

    /// Returns once what was queued is on disk and the file is closed.
    package func stop(deadline: ContinuousClock.Instant) -> Bool {
        close()
        return true
    }
}

/// `audit`: the order's line in the audit file. Personal data is masked.
package struct AuditHandler: QueuedFollowUpHandler {
    let log: AuditLog
    let wallClock: @Sendable () -> Int64

    package func perform(order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant) async throws {
        try await log.append(Self.record(order, taskID: taskID, recordedAtMillis: wallClock()))
    }

    package func enqueue(
        order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant,
        finished: @escaping @Sendable (ExecutorOutcome) -> Void
    ) -> Bool {
        let queuedAt = ContinuousClock.now
        let recordedAt = wallClock()
        // The JSON is built by the audit writer, not by the request thread that queues the task.
        let line: @Sendable () -> [UInt8] = { Self.record(order, taskID: taskID, recordedAtMillis: recordedAt) }
        return log.enqueue(lineBuiltBy: line, deadline: deadline) { outcome in
            let duration = ContinuousClock.now - queuedAt
            switch outcome {
            case .written: finished(.completed(duration: duration))
            case .failed(let error): finished(.failed(error, duration: duration))
            case .expired: finished(.timedOut(duration: duration))
            }
        }
    }

    static func record(_ order: StoredOrder, taskID: String, recordedAtMillis: Int64) -> [UInt8] {
        var json = JSONWriter(capacity: 320)
        json.beginObject()
        json.key("task_id")
        json.string(taskID)
        json.key("event")
        json.string("order_created")
        json.key("order_id")
        json.string(order.id)
        json.key("created_at")
        json.timestamp(millis: order.createdAtMillis)
        json.key("recorded_at")
        json.timestamp(millis: recordedAtMillis)
        json.key("currency")
        json.string(order.order.currency)
        json.key("total_cents")
        json.integer(order.order.totalCents)
        json.key("items")
        json.integer(order.order.items.count)
        json.key("phone")
        json.string(Redact.phone(order.order.customer.phone))
        if let email = order.order.customer.email {
            json.key("email")
            json.string(Redact.email(email))
        }
        json.endObject()
        return json.bytes
    }

    package init(log: AuditLog, wallClock: @escaping @Sendable () -> Int64) {
        self.log = log
        self.wallClock = wallClock
    }
}
