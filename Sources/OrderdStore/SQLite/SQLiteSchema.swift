import OrderdConfig
import OrderdSupport

/// The SQLite schema as an ordered list of migration steps.
///
/// `PRAGMA user_version` holds how many steps a database has had. At startup the store runs the missing ones
/// in one `BEGIN IMMEDIATE` transaction. Steps are append-only: never edit a released step, add a new one
/// .
///
/// Step 1 was rewritten in place before any deployment; from the first deployed release on, it is frozen.
enum SQLiteSchema {
    static let migrations: [String] = [
        // 1: orders, with their lines and their idempotency key in the same row. One b-tree per commit for an
        // order without a key, two with one (the row and the key's index entry); WITHOUT ROWID, so the row is
        // stored in the b-tree keyed by `id`, not in a rowid table plus an index. Measured with bench/run.sh at
        // synchronous=normal (mostly single-order commits), against the earlier layout with separate tables
        // for lines, keys and key expiry (four b-trees per commit): ~10 KB of WAL per order instead of ~15 KB
        // (2.2-2.6 frames instead of 3.4-3.7), the writer thread ~59 us of CPU per order instead of ~76.
        """
        CREATE TABLE orders (
            id              TEXT    NOT NULL PRIMARY KEY,  -- UUIDv7, canonical lower case: sorts by creation time
            created_at_ms   INTEGER NOT NULL,              -- Unix epoch milliseconds, UTC (the id's timestamp)
            phone           TEXT    NOT NULL,
            email           TEXT,
            currency        TEXT    NOT NULL,
            total_cents     INTEGER NOT NULL,
            note            TEXT,
            items           TEXT    NOT NULL,              -- the lines in order, JSON (see OrderRows)
            -- The Idempotency-Key the order was created with and the raw request body, compared byte for byte
            -- with a repeat. Live while created_at_ms + orders.idempotency_ttl > now; both cleared (NULL) when
            -- the key is purged or reused after it expired. request_body stays last: a large body spills to
            -- overflow pages without pushing the other columns there.
            idempotency_key TEXT,
            request_body    BLOB
        ) STRICT, WITHOUT ROWID;

        CREATE UNIQUE INDEX orders_by_idempotency_key ON orders (idempotency_key) WHERE idempotency_key IS NOT NULL;
        """,
        // 2: the outbox: one row per durable follow-up task, inserted in the order's own savepoint. A lease
        // (owner, until) is the claim of one process; a lease that ran out belongs to a process that died or
        // hung, and any process may claim the task again. See OutboxRows.
        """
        CREATE TABLE tasks (
            order_id          TEXT    NOT NULL,
            kind              TEXT    NOT NULL,               -- sms, webhook, audit
            state             TEXT    NOT NULL,               -- pending, done, dead
            attempts          INTEGER NOT NULL DEFAULT 0,     -- attempts that ended (a crash mid-attempt is not counted)
            created_at_ms     INTEGER NOT NULL,
            age_from_ms       INTEGER NOT NULL,               -- max_age counts from here (reset by `orderd tasks retry`)
            available_at_ms   INTEGER NOT NULL,               -- not attempted before (retry backoff)
            lease_owner       TEXT,                           -- the process holding the claim, NULL when free
            lease_until_ms    INTEGER,
            finished_at_ms    INTEGER,
            last_error        TEXT,
            PRIMARY KEY (order_id, kind)
        ) STRICT, WITHOUT ROWID;

        CREATE INDEX tasks_due ON tasks (available_at_ms) WHERE state = 'pending';
        CREATE INDEX tasks_dead ON tasks (finished_at_ms) WHERE state = 'dead';
        """,
        // 3: the id of the API key that created the order (never its secret); NULL for orders from before keys.
        // Appended after request_body (ALTER TABLE can only append); it is written once and read by ops only.
        """
        ALTER TABLE orders ADD COLUMN created_by TEXT;
        """,
        // 4: `task.sms.per_recipient`: the recent SMS tasks of each recipient, keyed by the SHA-256 of its
        // number (RecipientThrottle, RecipientRows). A row is forgotten once its last SMS is older than any
        // window the key allows.
        """
        CREATE TABLE sms_recipients (
            recipient BLOB    NOT NULL PRIMARY KEY,  -- SHA-256 of the E.164 number
            sent_ms   TEXT    NOT NULL,              -- times of its SMS tasks within the window, comma-separated, oldest first
            last_ms   INTEGER NOT NULL               -- the newest of them
        ) STRICT, WITHOUT ROWID;

        CREATE INDEX sms_recipients_by_last ON sms_recipients (last_ms);
        """,
    ]

    /// Brings the database to `migrations.count`, or fails when it was written by a newer orderd.
    /// Runs on the writer connection before any other connection is opened.
    static func migrate(_ connection: SQLiteConnection) throws(StoreError) {
        try connection.execute("BEGIN IMMEDIATE")
        do throws(StoreError) {
            // Read inside the write transaction so two processes starting at once cannot both migrate.
            let version = Int(try connection.scalarInt("PRAGMA user_version") ?? 0)
            guard version <= migrations.count else {
                throw StoreError.unavailable(
                    "database \(connection.path) has schema version \(version); this orderd knows up to \(migrations.count)")
            }
            for step in migrations[version...] {
                try connection.execute(step)
            }
            if version < migrations.count {
                try connection.execute("PRAGMA user_version = \(migrations.count)")
            }
            try connection.execute("COMMIT")
        } catch {
            connection.rollbackQuietly()
            throw error
        }
    }
}
