import OrderdConfig
import OrderdSupport

/// The SQL of the `tasks` table (the outbox): inserting a new order's tasks, claiming, recording outcomes.
enum OutboxRows {
    static let insert = """
        INSERT INTO tasks (order_id, kind, state, created_at_ms, age_from_ms, available_at_ms, lease_owner, lease_until_ms)
        VALUES (?1, ?2, 'pending', ?3, ?3, ?3, ?4, ?5)
        """
    /// An SMS task over `task.sms.per_recipient`: written dead at once, never leased, never attempted.
    static let insertThrottled = """
        INSERT INTO tasks (order_id, kind, state, created_at_ms, age_from_ms, available_at_ms, finished_at_ms, last_error)
        VALUES (?1, ?2, 'dead', ?3, ?3, ?3, ?3, ?4)
        """
    // Due and free (never leased, released, or the holder's lease ran out), oldest first, through `tasks_due`;
    // `?5`: a JSON array of known kinds no handler here runs, left alone (never leased, so never churned).
    static let claim = """
        UPDATE tasks SET lease_owner = ?1, lease_until_ms = ?2
        WHERE (order_id, kind) IN (
            SELECT order_id, kind FROM tasks
            WHERE state = 'pending' AND available_at_ms <= ?3 AND (lease_until_ms IS NULL OR lease_until_ms < ?3)
                AND kind NOT IN (SELECT value FROM json_each(?5))
            ORDER BY available_at_ms LIMIT ?4)
        RETURNING order_id, kind, attempts, age_from_ms
        """
    /// A row a claim could not read: dead at once, with the reason, whoever holds it.
    static let unreadable = """
        UPDATE tasks SET state = 'dead', finished_at_ms = ?3, last_error = ?4, lease_owner = NULL, lease_until_ms = NULL
        WHERE order_id = ?1 AND kind = ?2 AND state = 'pending'
        """
    static let done = """
        UPDATE tasks SET state = 'done', attempts = attempts + 1, finished_at_ms = ?4, last_error = NULL,
            lease_owner = NULL, lease_until_ms = NULL
        WHERE order_id = ?1 AND kind = ?2 AND lease_owner = ?3 AND state = 'pending'
        """
    static let retry = """
        UPDATE tasks SET attempts = attempts + 1, available_at_ms = ?4, last_error = ?5,
            lease_owner = NULL, lease_until_ms = NULL
        WHERE order_id = ?1 AND kind = ?2 AND lease_owner = ?3 AND state = 'pending'
        """
    static let dead = """
        UPDATE tasks SET state = 'dead', attempts = attempts + 1, finished_at_ms = ?4, last_error = ?5,
            lease_owner = NULL, lease_until_ms = NULL
        WHERE order_id = ?1 AND kind = ?2 AND lease_owner = ?3 AND state = 'pending'
        """
    static let release = """
        UPDATE tasks SET lease_owner = NULL, lease_until_ms = NULL
        WHERE order_id = ?1 AND kind = ?2 AND lease_owner = ?3 AND state = 'pending'
        """
    static let renew = """
        UPDATE tasks SET lease_until_ms = ?4 WHERE order_id = ?1 AND kind = ?2 AND lease_owner = ?3 AND state = 'pending'
        """
    static let retryDead = """
        UPDATE tasks SET state = 'pending', attempts = 0, age_from_ms = ?3, available_at_ms = ?3,
            finished_at_ms = NULL, lease_owner = NULL, lease_until_ms = NULL
        WHERE order_id = ?1 AND kind = ?2 AND state = 'dead'
        """
    // `orderd tasks retry --dead`: dead tasks of a kind (?2, or any), died at or after ?3 (or ever), oldest first,
    // at most ?4 per statement; throttled SMS only with ?5 = 1 (retrying them sends what the per-recipient limit
    // refused). CASTs so PostgreSQL knows the type of a parameter that may be NULL; SQLite accepts them as they are.
    static let deadSelection = """
        SELECT order_id, kind FROM tasks
        WHERE state = 'dead' AND (CAST(?2 AS TEXT) IS NULL OR kind = CAST(?2 AS TEXT))
            AND (CAST(?3 AS BIGINT) IS NULL OR finished_at_ms >= CAST(?3 AS BIGINT))
            AND (CAST(?5 AS BIGINT) = 1 OR kind <> 'sms' OR last_error IS NULL OR last_error NOT LIKE 'throttled:%')
        ORDER BY finished_at_ms LIMIT ?4
        """
    static let retryDeadBatch = """
        UPDATE tasks SET state = 'pending', attempts = 0, age_from_ms = ?1, available_at_ms = ?1,
            finished_at_ms = NULL, lease_owner = NULL, lease_until_ms = NULL
        WHERE state = 'dead' AND (order_id, kind) IN (\(deadSelection))
        """
    static let countDeadSelection = "SELECT count(*) FROM (\(deadSelection)) AS selected"
    // `orderd tasks list [--state S] [--kind K]`: ?2 and ?3 may be NULL (any).
    static let listSelected = """
        SELECT \(listColumns) FROM tasks
        WHERE (CAST(?2 AS TEXT) IS NULL OR state = CAST(?2 AS TEXT)) AND (CAST(?3 AS TEXT) IS NULL OR kind = CAST(?3 AS TEXT))
        ORDER BY created_at_ms, order_id, kind LIMIT ?1
        """
    // `orderd orders list`: created at or after ?1 (or ever), ids after ?2 (the page before's last), by id (UUIDv7:
    // creation order), at most ?3; `created_by` after the order's own columns.
    static let listOrders = """
        SELECT \(OrderRows.orderColumns), created_by FROM orders
        WHERE (CAST(?1 AS BIGINT) IS NULL OR created_at_ms >= CAST(?1 AS BIGINT))
            AND (CAST(?2 AS TEXT) IS NULL OR id > CAST(?2 AS TEXT))
        ORDER BY id LIMIT ?3
        """
    static let showOrder = "SELECT \(OrderRows.orderColumns), created_by FROM orders WHERE id = ?1"
    static let listColumns = """
        order_id, kind, state, attempts, created_at_ms, available_at_ms, lease_owner, lease_until_ms, finished_at_ms, last_error
        """
    // Through the partial indexes: no walk over the done tasks.
    static let countPending = "SELECT kind, count(*), min(created_at_ms) FROM tasks WHERE state = 'pending' GROUP BY kind"
    static let countDead = "SELECT count(*) FROM tasks WHERE state = 'dead'"
    // No index on done tasks: a walk over the table, which `outbox.retention` keeps to a few days of tasks.
    static let countDone = "SELECT count(*) FROM tasks WHERE state = 'done'"
    // `outbox.retention`: done tasks that finished before ?2, at most ?3 of them. A task finishes after its
    // order was created and ids are UUIDv7, so ?1 (the first id of ?2's millisecond) bounds a walk of the
    // primary key to the orders older than the cutoff: no index needed, and nothing to walk once they are gone.
    static let deleteDone = """
        DELETE FROM tasks WHERE (order_id, kind) IN (
            SELECT order_id, kind FROM tasks WHERE order_id < ?1 AND state = 'done' AND finished_at_ms < ?2 LIMIT ?3)
        """
    // `orderd tasks purge --dead`: through the partial index `tasks_dead`, oldest first.
    static let purgeDead = """
        DELETE FROM tasks WHERE (order_id, kind) IN (
            SELECT order_id, kind FROM tasks WHERE state = 'dead' AND finished_at_ms < ?1 ORDER BY finished_at_ms LIMIT ?2)
        """

    /// In the order's savepoint: one pending task per durable kind, leased by `owner` (the process that will
    /// hand it to its executor as soon as the response is finished); with `throttled`, the SMS task dead instead,
    /// with that message.
    static func insert(
        orderID: String, kinds: [TaskKind], createdAtMillis: Int64, owner: String, leaseUntilMillis: Int64,
        throttled: String? = nil, on connection: SQLiteConnection
    ) throws(StoreError) {
        let statement = try connection.cached(insert)
        for kind in kinds where kind.isDurable {
            if kind == .sms, let throttled {
                let dead = try connection.cached(insertThrottled)
                defer { dead.reset() }
                try dead.bind(1, orderID)
                try dead.bind(2, kind.rawValue)
                try dead.bind(3, createdAtMillis)
                try dead.bind(4, throttled)
                try dead.step()
                continue
            }
            defer { statement.reset() }
            try statement.bind(1, orderID)
            try statement.bind(2, kind.rawValue)
            try statement.bind(3, createdAtMillis)
            try statement.bind(4, owner)
            try statement.bind(5, leaseUntilMillis)
            try statement.step()
        }
    }

    /// Writer thread: applies one change.
    static func apply(_ change: OutboxChange, on connection: SQLiteConnection) throws(StoreError) {
        func keyed(_ sql: String, _ key: TaskKey, _ owner: String, _ bind: (SQLiteStatement) throws(StoreError) -> Void) throws(StoreError) {
            let statement = try connection.cached(sql)
            defer { statement.reset() }
            try statement.bind(1, key.orderID)
            try statement.bind(2, key.kind.rawValue)
            try statement.bind(3, owner)
            try bind(statement)
            try statement.step()
        }
        switch change {
        case .done(let key, let owner, let at):
            try keyed(done, key, owner) { (s) throws(StoreError) in try s.bind(4, at) }
        case .retry(let key, let owner, let retryAt, let error):
            try keyed(retry, key, owner) { (s) throws(StoreError) in
                try s.bind(4, retryAt)
                try s.bind(5, error)
            }
        case .dead(let key, let owner, let at, let error):
            try keyed(dead, key, owner) { (s) throws(StoreError) in
                try s.bind(4, at)
                try s.bind(5, error)
            }
        case .release(let keys, let owner):
            for key in keys { try keyed(release, key, owner) { (_) throws(StoreError) in } }
        case .renew(let leases, let until):
            for lease in leases {
                try keyed(renew, lease.key, lease.owner) { (s) throws(StoreError) in try s.bind(4, until) }
            }
        }
    }

    /// Writer thread, inside the batch transaction: leases due tasks and reads their orders. A row that cannot
    /// be read (unknown kind, no order, an order that does not decode) is marked dead here and reported, so it
    /// never blocks the rows behind it.
    static func claim(
        owner: String, skipping: [TaskKind], limit: Int, nowMillis: Int64, leaseUntilMillis: Int64,
        on connection: SQLiteConnection
    ) throws(StoreError) -> ClaimResult {
        var rows: [(orderID: String, kind: String, attempts: Int, ageFrom: Int64)] = []
        do {
            let statement = try connection.cached(claim)
            defer { statement.reset() }
            try statement.bind(1, owner)
            try statement.bind(2, leaseUntilMillis)
            try statement.bind(3, nowMillis)
            try statement.bind(4, Int64(limit))
            try statement.bind(5, "[" + skipping.map { "\"\($0.rawValue)\"" }.joined(separator: ",") + "]")
            while try statement.step() {
                rows.append((statement.text(0), statement.text(1), Int(statement.int64(2)), statement.int64(3)))
            }
        }
        var result = ClaimResult()
        result.tasks.reserveCapacity(rows.count)
        for row in rows {
            let reason: String
            if let kind = TaskKind(rawValue: row.kind), kind.isDurable {
                do throws(StoreError) {
                    if let order = try OrderRows.fetch(id: row.orderID, on: connection) {
                        result.tasks.append(ClaimedTask(
                            key: TaskKey(orderID: row.orderID, kind: kind), owner: owner, attempts: row.attempts,
                            ageFromMillis: row.ageFrom, order: order))
                        continue
                    }
                    reason = UnreadableTask.orderMissing
                } catch where error.isConfinedToOneWrite {  // a bad row; an I/O error or real corruption aborts the claim
                    reason = UnreadableTask.undecodable(error)
                }
            } else {
                reason = UnreadableTask.unknownKind(row.kind)
            }
            let statement = try connection.cached(unreadable)
            defer { statement.reset() }
            try statement.bind(1, row.orderID)
            try statement.bind(2, row.kind)
            try statement.bind(3, nowMillis)
            try statement.bind(4, reason)
            try statement.step()
            result.unreadable.append(UnreadableTask(orderID: row.orderID, kind: row.kind, reason: reason))
        }
        return result
    }

    /// Tasks oldest first, `LIMIT ?1`; `filtered`: only `state = ?2`.
    static func list(filtered: Bool) -> String {
        "SELECT \(listColumns) FROM tasks \(filtered ? "WHERE state = ?2 " : "")ORDER BY created_at_ms, order_id, kind LIMIT ?1"
    }

    /// The same SQL for PostgreSQL: its placeholders are `$1`, not `?1` (no `?` is used for anything else here).
    static func postgres(_ sql: String) -> String {
        String(sql.map { $0 == "?" ? "$" : $0 })
    }

    static func list(in state: TaskRecord.State?, limit: Int, on connection: SQLiteConnection) throws(StoreError) -> [TaskRecord] {
        let statement = try connection.cached(list(filtered: state != nil))
        defer { statement.reset() }
        try statement.bind(1, Int64(limit))
        if let state { try statement.bind(2, state.rawValue) }
        var records: [TaskRecord] = []
        while try statement.step() { records.append(try record(statement)) }
        return records
    }

    /// The task in the current row of a statement whose columns are `listColumns`.
    static func record(_ statement: SQLiteStatement) throws(StoreError) -> TaskRecord {
        let orderID = statement.text(0)
        guard let state = TaskRecord.State(rawValue: statement.text(2)) else {
            throw StoreError.corrupt("task \(orderID):\(statement.text(1)) has an unknown state")
        }
        return TaskRecord(
            orderID: orderID, kind: statement.text(1), state: state, attempts: Int(statement.int64(3)),
            createdAtMillis: statement.int64(4), availableAtMillis: statement.int64(5),
            leaseOwner: statement.optionalText(6), leaseUntilMillis: statement.isNull(7) ? nil : statement.int64(7),
            finishedAtMillis: statement.isNull(8) ? nil : statement.int64(8), lastError: statement.optionalText(9))
    }

    static func counts(includingDone: Bool, on connection: SQLiteConnection) throws(StoreError) -> OutboxCounts {
        var result = OutboxCounts()
        do {
            let statement = try connection.cached(countPending)
            defer { statement.reset() }
            while try statement.step() {
                let count = Int(statement.int64(1))
                result.pending += count
                result.pendingByKind[statement.text(0)] = count
                if !statement.isNull(2) {
                    result.oldestPendingMillis = min(result.oldestPendingMillis ?? .max, statement.int64(2))
                }
            }
        }
        if includingDone {
            let statement = try connection.cached(countDone)
            defer { statement.reset() }
            if try statement.step() { result.done = Int(statement.int64(0)) }
        }
        let statement = try connection.cached(countDead)
        defer { statement.reset() }
        if try statement.step() { result.dead = Int(statement.int64(0)) }
        return result
    }

    /// Deletes up to `limit` done tasks that finished before `finishedBeforeMillis`, in the caller's
    /// transaction (or its own, in autocommit). Returns how many.
    static func deleteDone(finishedBeforeMillis: Int64, limit: Int, on connection: SQLiteConnection) throws(StoreError) -> Int {
        let statement = try connection.cached(deleteDone)
        defer { statement.reset() }
        try statement.bind(1, UUIDv7.lowerBound(millis: finishedBeforeMillis))
        try statement.bind(2, finishedBeforeMillis)
        try statement.bind(3, Int64(limit))
        try statement.step()
        return connection.changes
    }

    /// Deletes up to `limit` dead tasks that died before `finishedBeforeMillis`, oldest first. Returns how many.
    static func purgeDead(finishedBeforeMillis: Int64, limit: Int, on connection: SQLiteConnection) throws(StoreError) -> Int {
        let statement = try connection.cached(purgeDead)
        defer { statement.reset() }
        try statement.bind(1, finishedBeforeMillis)
        try statement.bind(2, Int64(limit))
        try statement.step()
        return connection.changes
    }

    static func retryDead(_ key: TaskKey, nowMillis: Int64, on connection: SQLiteConnection) throws(StoreError) -> Bool {
        let statement = try connection.cached(retryDead)
        defer { statement.reset() }
        try statement.bind(1, key.orderID)
        try statement.bind(2, key.kind.rawValue)
        try statement.bind(3, nowMillis)
        try statement.step()
        return connection.changes > 0
    }
}
