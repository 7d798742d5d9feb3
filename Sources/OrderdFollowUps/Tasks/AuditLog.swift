import OrderdOrders
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// The audit file: one JSON line per order, appended and made durable (`fdatasync`) before the task counts
/// as done.
///
/// Writes happen on a thread of our own, never on Swift's cooperative pool, and concurrent appends share one
/// `write` and one `fdatasync` (group commit, as for orders). Lines carry their task id: after a crash an
/// order's line may appear twice (at-least-once), and readers drop repeats by `task_id`.
///
/// `reopen()` (at every SIGHUP) opens the path again, for logrotate: it renames the file, then reloads orderd,
/// and the next lines go to a new file at the path.
package final class AuditLog: Sendable {
    private struct State: Sendable {
        var pending: [(line: [UInt8], done: CheckedContinuation<Void, any Error>)] = []
        var closing = false
        var reopensAsked = 0
        var reopensDone = 0
        var reopenFailure: String?
    }

    let path: String
    /// A pthread mutex with a condition: reopen() waits on it for the writer's answer.
    private let state = PThreadLocked(State())
    private let writer = BackgroundThread(name: "orderd-audit")

    /// Opens (or creates, mode 0640) the file for appending; throws a message naming the path.
    package init(path: String) throws(FollowUpError) {
        self.path = path
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
            // Only the line that finds the queue empty wakes the writer: the writer takes the whole queue at
            // once and looks again before it waits, so the lines behind the first ride on its wake-up (under load,
            // one lock and no futex call per line instead of two locks and a signal each).
            let accepted: Bool?  // nil: refused; true: the writer needs a wake-up
            accepted = state.withLock { state in
                guard !state.closing else { return nil }
                state.pending.append((line, continuation))
                return state.pending.count == 1
            }
            switch accepted {
            case true?: writer.wake()
            case false?: break
            case nil: continuation.resume(throwing: FollowUpError.transient("the audit file is closed"))
            }
        }
    }

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
            let (batch, reopenTicket): ([(line: [UInt8], done: CheckedContinuation<Void, any Error>)], Int?) = state.withLock { state in
                defer { state.pending = [] }
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
            if batch.isEmpty {
                if reopenTicket != nil { continue }
                // close() refuses new lines before it stops the writer, so once the wait says stop, one more
                // look finds the last of them.
                if !running { break }
                running = context.wait()
                continue
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(batch.reduce(0) { $0 + $1.line.count + 1 })
            for entry in batch {
                bytes += entry.line
                bytes.append(UInt8(ascii: "\n"))
            }
            let failure = writeAll(bytes, to: fd) ?? (fdatasync(fd) == 0 ? nil : "fdatasync: \(String(cString: strerror(errno)))")
            for entry in batch {
                if let failure {
                    entry.done.resume(throwing: FollowUpError.transient("audit file \(path): \(failure)"))
                } else {
                    entry.done.resume()
                }
            }
        }
        Glibc.close(fd)
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
package struct AuditHandler: FollowUpHandler {
    let log: AuditLog
    let wallClock: @Sendable () -> Int64

    package func perform(order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant) async throws {
        try await log.append(Self.record(order, taskID: taskID, recordedAtMillis: wallClock()))
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
