import OrderdConfig
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// `orderd tasks` on a SQLite database, beside a daemon that may be serving it: one connection, no writer
/// thread, no migration, no checkpoint.
///
/// The daemon's store checkpoints and owns the WAL; this connection only reads it (`tasks list`, opened
/// `SQLITE_OPEN_READONLY`) or writes one short transaction at a time (`tasks retry`, `tasks purge`), waiting
/// at most `store.busy_timeout` for the daemon's writer. Closing it never checkpoints, so it never holds up
/// the daemon's writer and leaves the files as they were.
final class SQLiteOutboxAdministration: OutboxAdministration {
    private let connection: SQLiteConnection

    /// Opens `store.path`, which must exist and carry exactly this binary's schema version (`SchemaMismatch`).
    init(store: OrderdConfiguration.Store, writable: Bool) throws {
        var info = stat()
        guard stat(store.path, &info) == 0 else {
            throw StoreError.unavailable(
                "The database \(store.path) cannot be read: \(String(cString: strerror(errno))). orderd creates it at its first start.")
        }
        connection = try SQLiteConnection(path: store.path, readOnly: !writable)
        try connection.disableCheckpointOnClose()
        try connection.setBusyTimeout(store.busyTimeout)
        let version = Int(try connection.scalarInt("PRAGMA user_version") ?? 0)
        guard version == SQLiteSchema.migrations.count else {
            connection.close()
            throw SchemaMismatch(database: store.path, found: version, expected: SQLiteSchema.migrations.count)
        }
    }

    deinit { connection.close() }

    func tasks(in state: TaskRecord.State?, limit: Int) throws(StoreError) -> [TaskRecord] {
        try OutboxRows.list(in: state, limit: limit, on: connection)
    }

    func counts() throws(StoreError) -> OutboxCounts {
        // One read transaction, so the counts agree with each other.
        try connection.run("BEGIN")
        defer { connection.rollbackQuietly() }
        return try OutboxRows.counts(includingDone: true, on: connection)
    }

    func retryDead(_ key: TaskKey, nowMillis: Int64) throws(StoreError) -> Bool {
        try connection.run("BEGIN IMMEDIATE")
        do throws(StoreError) {
            let changed = try OutboxRows.retryDead(key, nowMillis: nowMillis, on: connection)
            try connection.run("COMMIT")
            return changed
        } catch {
            connection.rollbackQuietly()
            throw error
        }
    }

    func purgeDead(finishedBeforeMillis: Int64, batchSize: Int) throws(StoreError) -> Int {
        var deleted = 0
        while true {
            // Each batch its own short transaction: the daemon's writer waits for one batch, never for all.
            let batch = try OutboxRows.purgeDead(
                finishedBeforeMillis: finishedBeforeMillis, limit: max(1, batchSize), on: connection)
            deleted += batch
            if batch < max(1, batchSize) { return deleted }
        }
    }

    func tasks(in state: TaskRecord.State?, kind: String?, limit: Int) throws(StoreError) -> [TaskRecord] {
        let statement = try connection.cached(OutboxRows.listSelected)
        defer { statement.reset() }
        try statement.bind(1, Int64(limit))
        try statement.bind(2, state?.rawValue)
        try statement.bind(3, kind)
        var records: [TaskRecord] = []
        while try statement.step() { records.append(try OutboxRows.record(statement)) }
        return records
    }

    func retryDead(_ selection: DeadTaskSelection, nowMillis: Int64, dryRun: Bool) throws(StoreError) -> Int {
        let statement = try connection.cached(dryRun ? OutboxRows.countDeadSelection : OutboxRows.retryDeadBatch)
        defer { statement.reset() }
        try statement.bind(1, nowMillis)
        try statement.bind(2, selection.kind)
        try statement.bind(3, selection.diedSinceMillis)
        try statement.bind(4, Int64(max(1, selection.limit)))
        try statement.bind(5, Int64(selection.includeThrottled ? 1 : 0))
        if dryRun {
            guard try statement.step() else { return 0 }
            return Int(statement.int64(0))
        }
        // One statement, one short write transaction: the daemon's writer waits for one batch at most.
        try statement.step()
        return connection.changes
    }

    func orders(createdSinceMillis: Int64?, afterID: String?, limit: Int) throws(StoreError) -> [OrderRecord] {
        let statement = try connection.cached(OutboxRows.listOrders)
        defer { statement.reset() }
        try statement.bind(1, createdSinceMillis)
        try statement.bind(2, afterID)
        try statement.bind(3, Int64(max(1, limit)))
        var records: [OrderRecord] = []
        while try statement.step() {
            records.append(OrderRecord(order: try OrderRows.decode(statement), createdBy: statement.optionalText(8)))
        }
        return records
    }

    func orderRecord(id: String) throws(StoreError) -> OrderRecord? {
        let statement = try connection.cached(OutboxRows.showOrder)
        defer { statement.reset() }
        try statement.bind(1, id)
        guard try statement.step() else { return nil }
        return OrderRecord(order: try OrderRows.decode(statement), createdBy: statement.optionalText(8))
    }

    func close() { connection.close() }
}
