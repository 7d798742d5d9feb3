import CSQLite
import OrderdSupport

/// Why an `OrderStore` call failed.
///
/// Switch on `code`. `description` is generic and safe to show a client; `debugDescription` (what
/// `String(reflecting:)` and log lines should use) names the operation and, for SQLite failures, the SQLite
/// status code and `sqlite3_errmsg` text.
package struct StoreError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    fileprivate enum Kind: Sendable, Hashable {
        case busy, idempotencyConflict, unavailable, outcomeUnknown, corrupt, internalError
    }

    /// The kind of failure, which decides the HTTP answer. A struct with static members rather than a public
    /// enum so that kinds can be added without breaking exhaustive switches in other layers.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let kind: Kind

        /// The write could not be committed before the request's deadline or the database's busy timeout.
        /// Nothing was stored; retrying later may succeed (HTTP 503 with `Retry-After`).
        package static let busy = Code(kind: .busy)
        /// The idempotency key is already stored with a different request body (HTTP 409).
        package static let idempotencyConflict = Code(kind: .idempotencyConflict)
        /// The database cannot be used: disk full, I/O error, read-only, cannot be opened, or the store is closed.
        package static let unavailable = Code(kind: .unavailable)
        /// The write was sent but its outcome could not be learnt (the connection broke or the deadline passed
        /// while it was in flight, and looking the order up failed too): it may or may not be stored. A retry
        /// with the same idempotency key settles it (HTTP 503, `outcome_unknown`).
        package static let outcomeUnknown = Code(kind: .outcomeUnknown)
        /// The database file is damaged or is not a database.
        package static let corrupt = Code(kind: .corrupt)
        /// A bug or an unexpected SQLite answer.
        package static let `internal` = Code(kind: .internalError)

        package var description: String {
            switch kind {
            case .busy: return "busy"
            case .idempotencyConflict: return "idempotencyConflict"
            case .unavailable: return "unavailable"
            case .outcomeUnknown: return "outcomeUnknown"
            case .corrupt: return "corrupt"
            case .internalError: return "internal"
            }
        }
    }

    /// The kind of failure.
    package let code: Code
    /// SQLite's (extended) result code when SQLite reported the failure, else nil. Internal: other layers
    /// switch on `code`, which a PostgreSQL store can fill too.
    let sqliteStatus: Int32?
    /// `sqlite3_errmsg` at the time of the failure; may name paths and SQL, so it only goes to logs.
    private let sqliteMessage: String?
    /// What the store was doing, e.g. `BEGIN IMMEDIATE` or `open /var/lib/orderd/orderd.db`.
    private let context: String

    private init(_ kind: Kind, context: String, sqliteStatus: Int32? = nil, sqliteMessage: String? = nil) {
        self.code = Code(kind: kind)
        self.context = context
        self.sqliteStatus = sqliteStatus
        self.sqliteMessage = sqliteMessage
    }

    package var description: String {
        switch code.kind {
        case .busy: return "The order store is busy; try again later."
        case .idempotencyConflict: return "The idempotency key was already used with a different request body."
        case .unavailable: return "The order store is unavailable."
        case .outcomeUnknown: return "The order store did not tell whether the order was stored."
        case .corrupt: return "The order store is damaged."
        case .internalError: return "Internal order store error."
        }
    }

    package var debugDescription: String {
        var text = "StoreError.\(code): \(context)"
        if let sqliteStatus {
            let name = sqlite3_errstr(sqliteStatus).map { String(cString: $0) } ?? "unknown"
            text += ": SQLite status \(sqliteStatus) (\(name))"
            if let sqliteMessage { text += ": \(sqliteMessage)" }
        }
        return text
    }
}

extension StoreError {
    /// Maps a SQLite result code to a store error. `message` should be `sqlite3_errmsg` read right after the
    /// failing call, on the same connection and thread.
    static func sqlite(_ status: Int32, message: String?, context: String) -> StoreError {
        let kind: Kind
        switch status & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED:
            kind = .busy
        case SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_NOLFS,
            SQLITE_PROTOCOL, SQLITE_AUTH:
            kind = .unavailable
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            kind = .corrupt
        default:
            kind = .internalError
        }
        return StoreError(kind, context: context, sqliteStatus: status, sqliteMessage: message)
    }

    /// The write was not taken into a transaction before its deadline.
    static func deadlinePassed(_ context: String) -> StoreError { StoreError(.busy, context: context) }

    static func idempotencyConflict() -> StoreError {
        StoreError(.idempotencyConflict, context: "idempotency key already stored with a different request body")
    }

    static func unavailable(_ context: String) -> StoreError { StoreError(.unavailable, context: context) }

    static func corrupt(_ context: String) -> StoreError { StoreError(.corrupt, context: context) }

    static func outcomeUnknown(_ context: String) -> StoreError { StoreError(.outcomeUnknown, context: context) }

    static func internalError(_ context: String) -> StoreError { StoreError(.internalError, context: context) }

    /// A failure of another database engine (PostgreSQL), already classified by its driver's mapping.
    static func failure(_ code: Code, context: String) -> StoreError { StoreError(code.kind, context: context) }

    /// True when the failure concerns one order only (a constraint, a too-big value, an idempotency conflict,
    /// a check of our own): the writer rolls back that order's savepoint and lets the rest of the batch
    /// commit. Anything else (I/O, disk full, busy, corruption) aborts the whole transaction.
    var isConfinedToOneWrite: Bool {
        guard let sqliteStatus else { return code != .busy && code != .unavailable && code != .outcomeUnknown }
        switch sqliteStatus & 0xFF {
        case SQLITE_CONSTRAINT, SQLITE_TOOBIG, SQLITE_MISMATCH, SQLITE_RANGE: return true
        default: return false
        }
    }
}

extension StoreError {
    /// A thread the store needs could not be started.
    package init(_ error: ThreadStartError) {
        self = .unavailable(error.description)
    }
}
