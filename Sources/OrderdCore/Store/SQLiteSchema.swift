/// The SQLite schema as an ordered list of migration steps.
///
/// `PRAGMA user_version` holds how many steps a database has had. At startup the store runs the missing ones
/// in one `BEGIN IMMEDIATE` transaction. Steps are append-only: never edit a released step, add a new one
/// (the outbox table comes next).
enum SQLiteSchema {
    static let migrations: [String] = [
        // 1: orders, their lines, idempotency keys. WITHOUT ROWID: each table is one b-tree keyed by its
        // primary key, not a rowid table plus an index, so a commit writes fewer pages (measured: ~20 KB of WAL
        // per order at small batches before, most of orderd's CPU at synchronous=normal).
        """
        CREATE TABLE orders (
            id            TEXT    NOT NULL PRIMARY KEY,  -- UUIDv7, canonical lower case
            created_at_ms INTEGER NOT NULL,              -- Unix epoch milliseconds, UTC
            phone         TEXT    NOT NULL,
            email         TEXT,
            currency      TEXT    NOT NULL,
            total_cents   INTEGER NOT NULL,
            note          TEXT
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE order_items (
            order_id         TEXT    NOT NULL REFERENCES orders (id),
            line             INTEGER NOT NULL,           -- 1-based position in the order
            sku              TEXT    NOT NULL,
            quantity         INTEGER NOT NULL,
            unit_price_cents INTEGER NOT NULL,
            PRIMARY KEY (order_id, line)
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE idempotency_keys (
            key           TEXT    NOT NULL PRIMARY KEY,
            request_body  BLOB    NOT NULL,              -- raw body, compared byte for byte
            order_id      TEXT    NOT NULL REFERENCES orders (id),
            created_at_ms INTEGER NOT NULL,
            expires_at_ms INTEGER NOT NULL               -- treated as absent from this time on
        ) STRICT, WITHOUT ROWID;

        CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at_ms);
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
