import OrderdSupport
import PostgresNIO

/// Blocking calls into postgres-nio from our own threads, and its errors as `StoreError`s.
///
/// The callers are request threads, the dispatcher thread and the CLI: plain OS threads that may block. The work
/// runs as a Swift Task on `PostgresExecutor`'s threads, so it never waits for the thread that waits for it.
enum PostgresCall {
    /// Runs `body` and blocks until it finishes, or until `deadline`: then the Task is cancelled (postgres-nio
    /// gives up waiting for a connection, or closes the connection a query is running on) and `busy` is thrown.
    static func run<Value: Sendable>(
        _ what: String, on executor: PostgresExecutor, deadline: ContinuousClock.Instant,
        _ body: @escaping @Sendable () async throws -> Value
    ) throws(StoreError) -> Value {
        let outcome = Outcome<Value>()
        let task = Task(executorPreference: executor) {
            do { outcome.finish(.success(try await body())) } catch { outcome.finish(.failure(storeError(error, what))) }
        }
        guard let result = outcome.wait(until: deadline) else {
            task.cancel()
            throw StoreError.deadlinePassed("\(what): PostgreSQL did not answer in time")
        }
        return try result.get()
    }

    /// PostgreSQL's SQLSTATE classes decide the kind: serialization failures, deadlocks and lock timeouts are
    /// `busy` (retry later), resources, connections and shutdowns `unavailable`, data corruption `corrupt`. The
    /// context names the operation, the SQLSTATE and the server's message, never the query or its values (they
    /// hold phone numbers and emails).
    static func storeError(_ error: any Error, _ what: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if error is CancellationError { return .deadlinePassed("\(what): cancelled") }
        guard let error = error as? PSQLError else {
            return .failure(.unavailable, context: "\(what): \(String(describing: error))")
        }
        var context = "\(what): \(error.code)"
        let state = error.serverInfo?[.sqlState]
        if let state { context += " SQLSTATE \(state)" }
        if let message = error.serverInfo?[.message] { context += ": \(message)" }
        if state == nil, let underlying = error.underlying { context += ": \(underlying)" }
        guard let state else { return .failure(.unavailable, context: context) }
        switch state.prefix(2) {
        case "40", "55": return .failure(.busy, context: context)  // serialization, deadlock, lock not available
        case "08", "53", "57", "58", "28", "3D": return .failure(.unavailable, context: context)
        case "XX": return .failure(state == "XX000" ? .internal : .corrupt, context: context)
        default: return .failure(.internal, context: context)
        }
    }
}

/// The result of a Task, handed to the thread that waits for it.
private final class Outcome<Value: Sendable>: Sendable {
    private let result = PThreadLocked<Result<Value, StoreError>?>(nil)

    func finish(_ value: Result<Value, StoreError>) {
        result.withLock { result in result = value }
        result.signal()  // after unlocking (see `PThreadLocked.signal`)
    }

    /// The result, or nil if `deadline` passed first.
    func wait(until deadline: ContinuousClock.Instant) -> Result<Value, StoreError>? {
        result.withLock { (result, timedOut) -> LockedStep<Result<Value, StoreError>?> in
            result != nil || timedOut ? .done(result) : .wait(until: deadline)
        }
    }
}
