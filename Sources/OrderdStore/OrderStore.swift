import OrderdOrders
import OrderdSupport

/// Where orders are kept durably.
///
/// A blocking API: every call is made from one of our own request threads (plain OS threads that handle one
/// request each), never from Swift's cooperative pool, and may block for as long as the deadline or the
/// store's busy timeout allows. Nothing here is SQLite-specific, so a PostgreSQL store can conform without the
/// HTTP layer noticing.
package protocol OrderStore: AnyObject, Sendable {
    /// Stores the order durably; returns only after the commit holding it succeeded.
    ///
    /// With `idempotency`, a key already stored with the same body answers `.replayed` with the order stored
    /// the first time (nothing new is written); the same key with a different body throws
    /// `StoreError.Code.idempotencyConflict`.
    ///
    /// When this throws, the order was not stored, except with `StoreError.Code.outcomeUnknown` (it may be). If
    /// the write was not taken up before `deadline`, it throws `StoreError.Code.busy`; once the write is part of
    /// a transaction, the call waits for that transaction's outcome even past the deadline, so a success always
    /// means committed.
    func create(
        _ order: NewOrder,
        idempotency: IdempotencyRequest?,
        deadline: ContinuousClock.Instant
    ) throws(StoreError) -> CreateOutcome

    /// `create(_:idempotency:deadline:)` for a caller that must answer by `answerBy` (its request's deadline,
    /// at or after `deadline`): a store whose sent write can go unanswered (PostgreSQL, over a network) waits
    /// for it and for learning its outcome until then at most, and throws `StoreError.Code.outcomeUnknown`
    /// when that did not settle it. The default waits as `create(_:idempotency:deadline:)` does.
    func create(
        _ order: NewOrder,
        idempotency: IdempotencyRequest?,
        deadline: ContinuousClock.Instant,
        answerBy: ContinuousClock.Instant
    ) throws(StoreError) -> CreateOutcome

    /// `create(_:idempotency:deadline:answerBy:)` for a caller that does not wait: `completion` gets what it
    /// would have returned or thrown, once, on whichever thread learns it (SQLite: the writer, right after the
    /// commit; the default: the calling thread, before this returns). It must not block for long: the writer's
    /// next batch waits for it.
    func create(
        _ order: NewOrder,
        idempotency: IdempotencyRequest?,
        deadline: ContinuousClock.Instant,
        answerBy: ContinuousClock.Instant,
        completion: @escaping @Sendable (Result<CreateOutcome, StoreError>) -> Void
    )

    /// The stored order with this id, or nil when there is none.
    func order(id: String) throws(StoreError) -> StoredOrder?

    /// Writes queued for the store's own writer and not yet taken by it, for metrics; nil for a store without
    /// such a queue (PostgreSQL: each request thread sends its own statement).
    var queuedWrites: Int? { get }

    /// Finishes the writes already queued, then releases every resource. Calls after this fail with
    /// `StoreError.Code.unavailable`. Safe to call more than once.
    func close()
}

extension OrderStore {
    /// SQLite's writer is in this process: a write it took up always gets an answer, bounded by its own busy
    /// timeout.
    package func create(
        _ order: NewOrder,
        idempotency: IdempotencyRequest?,
        deadline: ContinuousClock.Instant,
        answerBy: ContinuousClock.Instant
    ) throws(StoreError) -> CreateOutcome {
        try create(order, idempotency: idempotency, deadline: deadline)
    }

    /// Waits here, as `create(_:idempotency:deadline:answerBy:)` does, then completes.
    package func create(
        _ order: NewOrder,
        idempotency: IdempotencyRequest?,
        deadline: ContinuousClock.Instant,
        answerBy: ContinuousClock.Instant,
        completion: @escaping @Sendable (Result<CreateOutcome, StoreError>) -> Void
    ) {
        completion(Result { () throws(StoreError) in
            try create(order, idempotency: idempotency, deadline: deadline, answerBy: answerBy)
        })
    }
}

/// An `Idempotency-Key` with the request body it came with.
package struct IdempotencyRequest: Sendable, Equatable {
    /// The client's `Idempotency-Key` header value.
    package var key: String
    /// The raw request body, compared byte for byte with the body stored with the key.
    package var body: [UInt8]

    package init(key: String, body: [UInt8]) {
        self.key = key
        self.body = body
    }
}

/// What `OrderStore.create` did.
package enum CreateOutcome: Sendable, Equatable {
    /// A new order was committed (HTTP 201).
    case created(StoredOrder)
    /// The idempotency key was already used with the same body; this is the order stored then (HTTP 200).
    case replayed(StoredOrder)

    /// The order, created now or earlier.
    package var order: StoredOrder {
        switch self {
        case .created(let order), .replayed(let order): return order
        }
    }
}
