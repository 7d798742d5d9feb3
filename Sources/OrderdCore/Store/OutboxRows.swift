/// The SQL of the `tasks` table (the outbox): inserting a new order's tasks, claiming, recording outcomes.
enum OutboxRows {
    static let insert = """
        INSERT INTO tasks (order_id, kind, state, created_at_ms, age_from_ms, available_at_ms, lease_owner, lease_until_ms)
        VALUES (?1, ?2, 'pending', ?3, ?3, ?3, ?4, ?5)
        """
    // Due and free (never leased, released, or the holder's lease ran out), oldest first, through `tasks_due`.
    static let claim = """
        UPDATE tasks SET lease_owner = ?1, lease_until_ms = ?2
        WHERE (order_id, kind) IN (
            SELECT order_id, kind FROM tasks
            WHERE state = 'pending' AND available_at_ms <= ?3 AND (lease_until_ms IS NULL OR lease_until_ms < ?3)
            ORDER BY available_at_ms LIMIT ?4)
        RETURNING order_id, kind, attempts, age_from_ms
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
    static let renew = "UPDATE tasks SET lease_until_ms = ?2 WHERE lease_owner = ?1 AND state = 'pending'"
    static let retryDead = """
        UPDATE tasks SET state = 'pending', attempts = 0, age_from_ms = ?3, available_at_ms = ?3,
            finished_at_ms = NULL, lease_owner = NULL, lease_until_ms = NULL
        WHERE order_id = ?1 AND kind = ?2 AND state = 'dead'
        """
    static let listColumns = """
        order_id, kind, state, attempts, created_at_ms, available_at_ms, lease_owner, lease_until_ms, finished_at_ms, last_error
        """
    // Through the partial indexes: no walk over the done tasks.
    static let countPending = "SELECT count(*), min(created_at_ms) FROM tasks WHERE state = 'pending'"
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
    /// hand it to its executor as soon as the response is finished).
    static func insert(
        orderID: String, kinds: [TaskKind], createdAtMillis: Int64, owner: String, leaseUntilMillis: Int64,
        on connection: SQLiteConnection
    ) throws(StoreError) {
        let statement = try connection.cached(insert)
        for kind in kinds where kind.isDurable {
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
        case .renew(let owner, let until):
            let statement = try connection.cached(renew)
            defer { statement.reset() }
            try statement.bind(1, owner)
            try statement.bind(2, until)
            try statement.step()
        }
    }

    /// Writer thread, inside the batch transaction: leases due tasks and reads their orders.
    static func claim(
        owner: String, limit: Int, nowMillis: Int64, leaseUntilMillis: Int64, on connection: SQLiteConnection
    ) throws(StoreError) -> [ClaimedTask] {
        var rows: [(TaskKey, Int, Int64)] = []
        do {
            let statement = try connection.cached(claim)
            defer { statement.reset() }
            try statement.bind(1, owner)
            try statement.bind(2, leaseUntilMillis)
            try statement.bind(3, nowMillis)
            try statement.bind(4, Int64(limit))
            while try statement.step() {
                let orderID = statement.text(0)
                let kindText = statement.text(1)
                guard let kind = TaskKind(rawValue: kindText) else {
                    throw StoreError.corrupt("task \(orderID):\(kindText) has an unknown kind")
                }
                rows.append((TaskKey(orderID: orderID, kind: kind), Int(statement.int64(2)), statement.int64(3)))
            }
        }
        var claimed: [ClaimedTask] = []
        claimed.reserveCapacity(rows.count)
        for (key, attempts, ageFrom) in rows {
            guard let order = try OrderRows.fetch(id: key.orderID, on: connection) else {
                throw StoreError.corrupt("task \(key) belongs to no order")
            }
            claimed.append(ClaimedTask(key: key, attempts: attempts, ageFromMillis: ageFrom, order: order))
        }
        return claimed
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
        while try statement.step() {
            let orderID = statement.text(0)
            guard let kind = TaskKind(rawValue: statement.text(1)), let state = TaskRecord.State(rawValue: statement.text(2)) else {
                throw StoreError.corrupt("task of order \(orderID) has an unknown kind or state")
            }
            records.append(TaskRecord(
                key: TaskKey(orderID: orderID, kind: kind), state: state, attempts: Int(statement.int64(3)),
                createdAtMillis: statement.int64(4), availableAtMillis: statement.int64(5),
                leaseOwner: statement.optionalText(6), leaseUntilMillis: statement.isNull(7) ? nil : statement.int64(7),
                finishedAtMillis: statement.isNull(8) ? nil : statement.int64(8), lastError: statement.optionalText(9)))
        }
        return records
    }

    static func counts(on connection: SQLiteConnection) throws(StoreError) -> OutboxCounts {
        var result = OutboxCounts()
        do {
            let statement = try connection.cached(countPending)
            defer { statement.reset() }
            if try statement.step() {
                result.pending = Int(statement.int64(0))
                result.oldestPendingMillis = statement.isNull(1) ? nil : statement.int64(1)
            }
        }
        do {
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
