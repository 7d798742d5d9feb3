import OrderdConfig
import OrderdOrders
import OrderdSupport

/// What `orderd tasks` does to the outbox of a database a daemon may be serving at the same time: look at it,
/// make dead tasks pending again, delete old dead ones. Never migrates and never checkpoints.
package protocol OutboxAdministration: AnyObject {
    /// Tasks in `state` (every state when nil), oldest first.
    func tasks(in state: TaskRecord.State?, limit: Int) throws(StoreError) -> [TaskRecord]
    /// Counts by state.
    func counts() throws(StoreError) -> OutboxCounts
    /// Makes a dead task pending again, due now, with its attempts and age reset. False when no dead task has this key.
    func retryDead(_ key: TaskKey, nowMillis: Int64) throws(StoreError) -> Bool
    /// Deletes dead tasks that died before `finishedBeforeMillis`, at most `batchSize` per transaction, so a
    /// running daemon's writer waits for one small batch at a time. Returns how many were deleted.
    func purgeDead(finishedBeforeMillis: Int64, batchSize: Int) throws(StoreError) -> Int
    /// Tasks in `state` and of `kind` (any when nil), oldest first.
    func tasks(in state: TaskRecord.State?, kind: String?, limit: Int) throws(StoreError) -> [TaskRecord]
    /// Makes at most `selection.limit` of the selected dead tasks pending again, in one transaction, oldest
    /// death first; with `dryRun`, only counts them. Returns how many.
    func retryDead(_ selection: DeadTaskSelection, nowMillis: Int64, dryRun: Bool) throws(StoreError) -> Int
    /// Orders created at or after `createdSinceMillis`, with ids after `afterID`, by id, at most `limit`.
    func orders(createdSinceMillis: Int64?, afterID: String?, limit: Int) throws(StoreError) -> [OrderRecord]
    func orderRecord(id: String) throws(StoreError) -> OrderRecord?
    func close()
}

/// Which dead tasks `orderd tasks retry --dead` takes.
package struct DeadTaskSelection: Sendable {
    package var kind: String?
    package var diedSinceMillis: Int64?
    /// Throttled SMS too: retrying them sends what `task.sms.per_recipient` refused.
    package var includeThrottled: Bool
    package var limit: Int

    package init(kind: String? = nil, diedSinceMillis: Int64? = nil, includeThrottled: Bool = false, limit: Int) {
        self.kind = kind
        self.diedSinceMillis = diedSinceMillis
        self.includeThrottled = includeThrottled
        self.limit = limit
    }
}

/// An order as `orderd orders` shows it: the order and the id of the API key that created it.
package struct OrderRecord: Sendable {
    package var order: StoredOrder
    package var createdBy: String?
}

/// Why `orderd tasks` refuses a database: it never migrates one, so its schema must be exactly this binary's.
package struct SchemaMismatch: Error, CustomStringConvertible {
    /// The database, as the configuration names it.
    package let database: String
    package let found: Int
    package let expected: Int

    package var description: String {
        if found == 0 {
            return "The database \(database) has no orderd schema yet (version 0). orderd tasks never creates or "
                + "migrates one: start orderd once, which does."
        }
        if found < expected {
            return "The database \(database) has schema version \(found); this orderd uses version \(expected). "
                + "orderd tasks never migrates a database: run the orderd that serves it, or start this version's "
                + "daemon once (it migrates at start) and try again."
        }
        return "The database \(database) has schema version \(found), newer than this orderd's version \(expected). "
            + "Use the orderd binary of the version that serves this database."
    }
}

extension OrderStores {
    /// Opens the configured store for `orderd tasks`: the schema checked (never migrated), no writer thread, no
    /// checkpoint. `writable`: `tasks retry` and `tasks purge`; without it, SQLite opens the file read-only.
    package static func openForAdministration(
        _ settings: StoreSettings, writable: Bool
    ) throws -> any OutboxAdministration {
        switch settings.store.driver {
        case .sqlite: return try SQLiteOutboxAdministration(store: settings.store, writable: writable)
        case .postgres: return try PostgresOrderStore(settings: settings, migrate: false)
        }
    }
}
