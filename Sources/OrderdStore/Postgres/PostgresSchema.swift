import Logging
import OrderdConfig
import OrderdSupport
import PostgresNIO

/// The PostgreSQL schema: the same tables as `SQLiteSchema` in PostgreSQL's types, as an append-only list of
/// steps. `orderd_schema` records each step applied (version, when, by which process).
///
/// Several instances starting at once apply each step exactly once: the whole migration runs in one
/// transaction under a transaction-level advisory lock, so the second instance waits for the first to commit
/// and then finds nothing left to do.
enum PostgresSchema {
    /// `pg_advisory_xact_lock` key: "orderd" in ASCII, so that it does not collide with another application's.
    static let migrationLock: Int64 = 0x6f72_6465_7264

    /// Each step is a list of statements (the extended query protocol runs one statement per query).
    static let migrations: [[String]] = [
        // 1: orders (lines as JSON text, as in SQLite: one row per order), their idempotency key and request
        // body, and the outbox. Times are Unix epoch milliseconds, as in SQLite, so the two stores share code.
        ["""
        CREATE TABLE orders (
            id              text   NOT NULL PRIMARY KEY,   -- UUIDv7, canonical lower case
            created_at_ms   bigint NOT NULL,
            phone           text   NOT NULL,
            email           text,
            currency        text   NOT NULL,
            total_cents     bigint NOT NULL,
            note            text,
            items           text   NOT NULL,               -- the lines in order, JSON (see OrderRows)
            idempotency_key text,                          -- live while created_at_ms + orders.idempotency_ttl > now
            request_body    bytea
        )
        """,
        "CREATE UNIQUE INDEX orders_by_idempotency_key ON orders (idempotency_key) WHERE idempotency_key IS NOT NULL",
        "CREATE INDEX orders_keyed_by_age ON orders (created_at_ms) WHERE idempotency_key IS NOT NULL",
        """
        CREATE TABLE tasks (
            order_id        text    NOT NULL REFERENCES orders (id),
            kind            text    NOT NULL,
            state           text    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
            attempts        integer NOT NULL DEFAULT 0,
            created_at_ms   bigint  NOT NULL,
            age_from_ms     bigint  NOT NULL,
            available_at_ms bigint  NOT NULL,
            lease_owner     text,
            lease_until_ms  bigint,
            finished_at_ms  bigint,
            last_error      text,
            PRIMARY KEY (order_id, kind)
        )
        """,
        "CREATE INDEX tasks_due ON tasks (available_at_ms) WHERE state = 'pending'",
        "CREATE INDEX tasks_dead ON tasks (finished_at_ms) WHERE state = 'dead'"],
        // 2: the id of the API key that created the order (never its secret); NULL for orders from before keys.
        ["ALTER TABLE orders ADD COLUMN created_by text"],
        // 3: `task.sms.per_recipient`: the recent SMS tasks of each recipient, keyed by the SHA-256 of its number
        // (RecipientThrottle). The order's statement updates the row with ON CONFLICT DO UPDATE, which locks it:
        // instances sending to the same number take turns, so the limit holds exactly across instances.
        ["""
        CREATE TABLE sms_recipients (
            recipient bytea    NOT NULL PRIMARY KEY,  -- SHA-256 of the E.164 number
            sent_ms   bigint[] NOT NULL,              -- times of its SMS tasks within the window, oldest first
            last_ms   bigint   NOT NULL               -- the newest of them
        )
        """,
        "CREATE INDEX sms_recipients_by_last ON sms_recipients (last_ms)"],
    ]

    /// Brings the database to `migrations.count`; fails when a newer orderd already migrated it further.
    /// Returns the versions this call applied (none when another instance did it first).
    static func migrate(_ connection: PostgresConnection, by owner: String, logger: Logger) async throws -> [Int] {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS orderd_schema (
                    version    integer     NOT NULL PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    applied_by text        NOT NULL)
                """, logger: logger)
            var current = 0
            for try await version in try await connection.query(
                "SELECT coalesce(max(version), 0)::integer FROM orderd_schema", logger: logger
            ).decode(Int32.self) {
                current = Int(version)
            }
            guard current <= migrations.count else {
                throw StoreError.unavailable(
                    "the PostgreSQL database has schema version \(current); this orderd knows up to \(migrations.count)")
            }
            var applied: [Int] = []
            for version in (current + 1)..<(migrations.count + 1) {
                for statement in migrations[version - 1] {
                    // Constant SQL from this file, no input in it.
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO orderd_schema (version, applied_by) VALUES (\(Int32(version)), \(owner))", logger: logger)
                applied.append(version)
            }
            return applied
        }
    }

    /// For `orderd tasks`, which never migrates: nothing is applied (an empty list); a database at another
    /// version than `migrations.count` fails with `SchemaMismatch` (version 0 when orderd never ran on it).
    static func requireCurrent(_ connection: PostgresConnection, database: String, logger: Logger) async throws -> [Int] {
        var current = 0
        var exists = false
        for try await found in try await connection.query(
            "SELECT to_regclass('orderd_schema') IS NOT NULL", logger: logger
        ).decode(Bool.self) {
            exists = found
        }
        if exists {
            for try await version in try await connection.query(
                "SELECT coalesce(max(version), 0)::integer FROM orderd_schema", logger: logger
            ).decode(Int32.self) {
                current = Int(version)
            }
        }
        guard current == migrations.count else {
            throw SchemaMismatch(database: database, found: current, expected: migrations.count)
        }
        return []
    }
}
