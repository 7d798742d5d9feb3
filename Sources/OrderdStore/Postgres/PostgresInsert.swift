import OrderdConfig
import OrderdOrders
import OrderdSupport

/// The PostgreSQL server process behind one connection, as `pg_stat_activity` names it: the pid alone could be
/// a later process's once this one has ended, the pid with its start time cannot.
struct PostgresBackend: Sendable, Equatable {
    let pid: Int32
    /// `backend_start` as PostgreSQL prints it, compared as text with the same column.
    let start: String
}

/// One order's insert, handed between the request thread that waits for it and the Task that runs it.
///
/// Unlike SQLite's `PendingWrite`, the request thread does not wait for a statement already sent whatever the
/// deadline: over a network, "sent" can mean "lost". It waits until shortly before it must answer, and if no
/// outcome came by then, or the connection broke after the statement left, the outcome is `unknown` and the
/// caller looks the order up (`PostgresOrderStore.settle`).
final class PostgresInsert: Sendable {

    enum Outcome {
        /// The server answered, or the statement was never sent: the result is the answer.
        case settled(Result<CreateOutcome, StoreError>)
        /// The statement was sent on `backend`'s connection and no answer came (`reason` says why).
        case unknown(backend: PostgresBackend, reason: String)
    }

    private enum State {
        /// Waiting for a connection; the request thread may still give up at `takeUpBy`.
        case queued
        /// The statement is (about to be) on its way.
        case sent(PostgresBackend, at: ContinuousClock.Instant)
        /// The request thread stopped waiting; whatever the Task learns now is not its answer.
        case abandoned
        case finished(Outcome)
    }

    /// Longest part of the request's time kept for looking the order up after an in-flight insert went silent.
    /// A second is many round trips on a working server, and if the server cannot answer a primary-key lookup
    /// in a second, it would not have answered the insert either; with less than two seconds left when the
    /// statement was sent, the lookup gets half of what was left.
    static let lookupReserve: Duration = .seconds(1)

    /// The order with the id and time it gets if it is stored: known before the statement is sent, so the order
    /// can be looked up when the statement's outcome cannot be learnt.
    let stored: StoredOrder
    let idempotency: IdempotencyRequest?
    /// Latest start of the statement (the store's busy deadline): a write not sent by then is never sent.
    let takeUpBy: ContinuousClock.Instant
    private let state = PThreadLocked(State.queued)

    init(stored: StoredOrder, idempotency: IdempotencyRequest?, takeUpBy: ContinuousClock.Instant) {
        self.stored = stored
        self.idempotency = idempotency
        self.takeUpBy = takeUpBy
    }

    /// Task: the statement is about to go out on `backend`'s connection. False when the request gave up or
    /// `takeUpBy` passed (then it is answered `busy` here and never sent).
    func send(now: ContinuousClock.Instant, on backend: PostgresBackend) -> Bool {
        state.withLock { state in
            guard case .queued = state else { return false }
            guard now < takeUpBy else {
                state = .finished(.settled(.failure(.deadlinePassed("deadline passed while waiting for a connection"))))
                self.state.signal()
                return false
            }
            state = .sent(backend, at: now)
            return true
        }
    }

    /// Task: the server's answer, or a failure before the statement was sent.
    func finish(_ result: Result<CreateOutcome, StoreError>) {
        let settled = state.withLock { state in
            switch state {
            case .queued, .sent: state = .finished(.settled(result))
            case .abandoned, .finished: return false
            }
            return true
        }
        if settled { state.signal() }  // after unlocking (see `PThreadLocked.signal`)
    }

    /// Task: the statement was sent and the connection failed before its answer came.
    func finishUnknown(_ reason: String) {
        let settled = state.withLock { state in
            switch state {
            case .sent(let backend, _): state = .finished(.unknown(backend: backend, reason: reason))
            case .queued: state = .finished(.settled(.failure(.unavailable(reason))))
            case .abandoned, .finished: return false
            }
            return true
        }
        if settled { state.signal() }
    }

    /// Request thread: blocks until the outcome, until `takeUpBy` while no connection was found, or until
    /// `answerBy` less the lookup's reserve (`lookupReserve`, at most half the time left) once the statement
    /// was sent.
    func awaitOutcome(answerBy: ContinuousClock.Instant, lookupReserve: Duration = PostgresInsert.lookupReserve) -> Outcome {
        // A timeout counts only for the phase it was waited in: the insert may have been sent during a wait
        // that ended at `takeUpBy`.
        var waitedSent = false
        return state.withLock { (state, timedOut) -> LockedStep<Outcome> in
            switch state {
            case .finished(let outcome):
                return .done(outcome)
            case .queued:
                guard timedOut else { return .wait(until: takeUpBy) }
                state = .abandoned
                return .done(.settled(.failure(.deadlinePassed("deadline passed while waiting for a connection"))))
            case .sent(let backend, let sentAt):
                guard timedOut && waitedSent else {
                    waitedSent = true
                    return .wait(until: answerBy - min(lookupReserve, (answerBy - sentAt) / 2))
                }
                state = .abandoned
                return .done(.unknown(backend: backend, reason: "the request's deadline came while the insert was in flight"))
            case .abandoned:
                preconditionFailure("an insert is abandoned only by the thread waiting for it")
            }
        }
    }
}
