/// A durable task's identity: one task per order and kind. Its text form `<order id>:<kind>` is the task id
/// shown by `orderd tasks` and sent as `Idempotency-Key` with every attempt.
public struct TaskKey: Sendable, Hashable, CustomStringConvertible {
    public var orderID: String
    public var kind: TaskKind

    public init(orderID: String, kind: TaskKind) {
        self.orderID = orderID
        self.kind = kind
    }

    /// Parses `<order id>:<kind>`.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let kind = TaskKind(rawValue: String(text[text.index(after: colon)...])),
            kind.isDurable
        else { return nil }
        self.init(orderID: String(text[..<colon]), kind: kind)
    }

    public var description: String { "\(orderID):\(kind.rawValue)" }
}

/// A durable task this process holds a lease on, with the order it is about.
public struct ClaimedTask: Sendable {
    public var key: TaskKey
    /// Attempts already made (and recorded) before this one.
    public var attempts: Int
    /// `max_age` counts from here: the order's creation, or the last manual retry.
    public var ageFromMillis: Int64
    public var order: StoredOrder
}

/// A change to durable tasks, queued by the executor side and written by the store in its next transaction.
/// Changes apply only while `owner` still holds the task's lease, so a late answer from a task another process
/// has taken over since changes nothing.
public enum OutboxChange: Sendable {
    /// The attempt succeeded.
    case done(TaskKey, owner: String, atMillis: Int64)
    /// The attempt failed; try again at `retryAtMillis`.
    case retry(TaskKey, owner: String, retryAtMillis: Int64, error: String)
    /// The attempt failed and no further one is allowed: kept as dead, with the reason.
    case dead(TaskKey, owner: String, atMillis: Int64, error: String)
    /// Give up the lease without an attempt (queue full, stop): another claim will run it.
    case release([TaskKey], owner: String)
    /// Extend every lease `owner` holds.
    case renew(owner: String, untilMillis: Int64)
}

/// One row of the outbox, for `orderd tasks list`.
public struct TaskRecord: Sendable, Equatable {
    public enum State: String, Sendable { case pending, done, dead }
    public var key: TaskKey
    public var state: State
    public var attempts: Int
    public var createdAtMillis: Int64
    public var availableAtMillis: Int64
    public var leaseOwner: String?
    public var leaseUntilMillis: Int64?
    public var finishedAtMillis: Int64?
    public var lastError: String?
}

/// What is in the outbox, by state.
public struct OutboxCounts: Sendable, Equatable {
    public var pending = 0
    /// Done tasks still kept (`outbox.retention`).
    public var done = 0
    public var dead = 0
    /// Creation time of the oldest pending task, if any.
    public var oldestPendingMillis: Int64?
}

/// The durable half of the executor: tasks written with their order, claimed under leases, and their outcomes.
///
/// A blocking API for our own threads (the dispatcher thread, request threads, the CLI). `record` never waits:
/// the change is written with the store's next transaction (group commit), so an executor worker never waits
/// for an fsync. Losing such a change in a crash only means the task runs again, with the same
/// `Idempotency-Key`.
public protocol OutboxStore: AnyObject, Sendable {
    /// Leases up to `limit` tasks that are due (pending, `available_at` passed) and not leased by anyone
    /// (or whose lease expired: its holder died), oldest first, until `leaseUntilMillis`.
    func claimDue(owner: String, limit: Int, nowMillis: Int64, leaseUntilMillis: Int64) throws(StoreError) -> [ClaimedTask]
    /// Queues a change; returns at once.
    func record(_ change: OutboxChange)
    /// Tasks in `state` (every state when nil), oldest first.
    func tasks(in state: TaskRecord.State?, limit: Int) throws(StoreError) -> [TaskRecord]
    /// Makes a dead task pending again, due now, with its attempts and age reset. False when no dead task has this key.
    func retryDead(_ key: TaskKey, nowMillis: Int64) throws(StoreError) -> Bool
    /// Counts by state.
    func counts() throws(StoreError) -> OutboxCounts
}
