import OrderdConfig
import OrderdOrders
import OrderdSupport

/// A durable task's identity: one task per order and kind. Its text form `<order id>:<kind>` is the task id
/// shown by `orderd tasks` and sent as `Idempotency-Key` with every attempt.
package struct TaskKey: Sendable, Hashable, CustomStringConvertible {
    package var orderID: String
    package var kind: TaskKind

    package init(orderID: String, kind: TaskKind) {
        self.orderID = orderID
        self.kind = kind
    }

    /// Parses `<order id>:<kind>`.
    package init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let kind = TaskKind(rawValue: String(text[text.index(after: colon)...])),
            kind.isDurable
        else { return nil }
        self.init(orderID: String(text[..<colon]), kind: kind)
    }

    package var description: String { "\(orderID):\(kind.rawValue)" }
}

/// A lease on one task: the task and the token its claim (or its order's insert) wrote into `lease_owner`.
/// Every later change to the task names both, so a change made with a lease the task no longer has (it ran out
/// and the task was claimed again, by this process or another) matches no row and changes nothing.
package struct TaskLease: Sendable, Hashable {
    package var key: TaskKey
    package var owner: String

    package init(key: TaskKey, owner: String) {
        self.key = key
        self.owner = owner
    }
}

/// A durable task this process holds a lease on, with the order it is about.
package struct ClaimedTask: Sendable {
    package var key: TaskKey
    /// The token this claim wrote into `lease_owner`: one per claim, never reused.
    package var owner: String
    /// Attempts already made (and recorded) before this one.
    package var attempts: Int
    /// `max_age` counts from here: the order's creation, or the last manual retry.
    package var ageFromMillis: Int64
    package var order: StoredOrder
}

/// A task row that a claim could not read (a kind this orderd does not know, its order missing, a column that
/// does not decode): the claim marked it dead with `reason` in the same transaction and went on with the rest.
package struct UnreadableTask: Sendable, Equatable {
    package var orderID: String
    /// The kind as stored (it may be one this orderd does not know).
    package var kind: String
    package var reason: String

    static func unknownKind(_ kind: String) -> String {
        "unreadable: kind '\(kind)' is unknown to orderd \(OrderdVersion.current) (written by another version?); an orderd that knows it can `tasks retry` it"
    }
    static let orderMissing = "unreadable: its order is missing"
    static func undecodable(_ error: StoreError) -> String { "unreadable: \(String(reflecting: error))" }
}

/// What one claim got.
package struct ClaimResult: Sendable {
    package var tasks: [ClaimedTask] = []
    /// Rows the claim marked dead because they cannot be read (never handed out again).
    package var unreadable: [UnreadableTask] = []
    package init(tasks: [ClaimedTask] = [], unreadable: [UnreadableTask] = []) {
        self.tasks = tasks
        self.unreadable = unreadable
    }
}

/// A change to durable tasks, queued by the executor side and written by the store in its next transaction.
/// Changes apply only while `owner` (the lease token of the claim or insert that handed the task out) is still
/// in the task's row, so a late answer from a task whose lease ran out and was claimed again changes nothing.
package enum OutboxChange: Sendable {
    /// The attempt succeeded.
    case done(TaskKey, owner: String, atMillis: Int64)
    /// The attempt failed; try again at `retryAtMillis`.
    case retry(TaskKey, owner: String, retryAtMillis: Int64, error: String)
    /// The attempt failed and no further one is allowed: kept as dead, with the reason.
    case dead(TaskKey, owner: String, atMillis: Int64, error: String)
    /// Give up the lease without an attempt (queue full, stop): another claim will run it.
    case release([TaskKey], owner: String)
    /// Extend these leases (the ones this process still holds a handle for: a lease whose handle was lost is
    /// left to run out, so its task is claimed again).
    case renew([TaskLease], untilMillis: Int64)
}

/// One row of the outbox, for `orderd tasks list`.
package struct TaskRecord: Sendable, Equatable {
    package enum State: String, Sendable { case pending, done, dead }
    package var orderID: String
    /// The kind as stored: possibly one this orderd does not know (written by another version).
    package var kind: String
    /// nil for a kind this orderd does not know.
    package var key: TaskKey? { TaskKind(rawValue: kind).map { TaskKey(orderID: orderID, kind: $0) } }
    /// `<order id>:<kind>`, as `orderd tasks` shows it.
    package var id: String { "\(orderID):\(kind)" }
    package var state: State
    package var attempts: Int
    package var createdAtMillis: Int64
    package var availableAtMillis: Int64
    package var leaseOwner: String?
    package var leaseUntilMillis: Int64?
    package var finishedAtMillis: Int64?
    package var lastError: String?
}

/// What is in the outbox, by state.
package struct OutboxCounts: Sendable, Equatable {
    package var pending = 0
    /// Done tasks still kept (`outbox.retention`); nil unless asked for (`counts(includingDone: true)`): no
    /// index serves it, so it is a walk over the table, for `/status` and `orderd tasks`, never the samplers.
    package var done: Int?
    package var dead = 0
    /// Pending tasks by kind as stored (a kind no handler here runs shows up too).
    package var pendingByKind: [String: Int] = [:]
    /// Creation time of the oldest pending task, if any.
    package var oldestPendingMillis: Int64?

    package init(
        pending: Int = 0, done: Int? = nil, dead: Int = 0, pendingByKind: [String: Int] = [:], oldestPendingMillis: Int64? = nil
    ) {
        self.pending = pending
        self.done = done
        self.dead = dead
        self.pendingByKind = pendingByKind
        self.oldestPendingMillis = oldestPendingMillis
    }
}

/// The durable half of the executor: tasks written with their order, claimed under leases, and their outcomes.
///
/// A blocking API for our own threads (the dispatcher thread, request threads, the CLI). `record` never waits:
/// the change is written with the store's next transaction (group commit), so an executor worker never waits
/// for an fsync. Losing such a change in a crash only means the task runs again, with the same
/// `Idempotency-Key`.
package protocol OutboxStore: AnyObject, Sendable {
    /// Leases up to `limit` tasks that are due (pending, `available_at` passed) and not leased by anyone
    /// (or whose lease expired: its holder died or lost its handle), oldest first, until `leaseUntilMillis`,
    /// writing `owner` (a token new for this claim) into each. Kinds in `skipping` (known kinds no handler here
    /// runs) are left alone, untouched; a row that cannot be read is marked dead with its reason, in the same
    /// transaction, and the claim goes on with the rest.
    func claimDue(
        owner: String, skipping: [TaskKind], limit: Int, nowMillis: Int64, leaseUntilMillis: Int64
    ) throws(StoreError) -> ClaimResult
    /// Queues a change; returns at once.
    func record(_ change: OutboxChange)
    /// Tasks in `state` (every state when nil), oldest first.
    func tasks(in state: TaskRecord.State?, limit: Int) throws(StoreError) -> [TaskRecord]
    /// Makes a dead task pending again, due now, with its attempts and age reset. False when no dead task has this key.
    func retryDead(_ key: TaskKey, nowMillis: Int64) throws(StoreError) -> Bool
    /// Counts by state (done ones only with `includingDone`).
    func counts(includingDone: Bool) throws(StoreError) -> OutboxCounts
}

extension OutboxStore {
    /// Pending and dead: cheap, through partial indexes.
    package func counts() throws(StoreError) -> OutboxCounts { try counts(includingDone: false) }

    /// Every kind, only the tasks that could be read.
    package func claimDue(owner: String, limit: Int, nowMillis: Int64, leaseUntilMillis: Int64) throws(StoreError) -> [ClaimedTask] {
        try claimDue(owner: owner, skipping: [], limit: limit, nowMillis: nowMillis, leaseUntilMillis: leaseUntilMillis).tasks
    }
}
