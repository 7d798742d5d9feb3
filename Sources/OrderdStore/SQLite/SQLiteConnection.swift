import CSQLite
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

// We use SQLite's C API directly rather than GRDB: GRDB's DatabasePool resets `synchronous` to NORMAL when it
// opens, and we need FULL (one fsync per commit) to be exactly what the configuration says.

/// `SQLITE_TRANSIENT`: SQLite copies the bound value before the bind call returns. The C macro is a cast of -1
/// to a function pointer, which Swift does not import.
private let transientDestructor = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection with a cache of prepared statements.
///
/// The handle moves between threads but is never used by two at once: the writer's connection is created by
/// `SQLiteOrderStore.init` and then used only by the writer thread, and a reader connection is used only by the
/// thread that checked it out of `SQLiteReaderPool`. The connections are opened with `SQLITE_OPEN_NOMUTEX`
/// (SQLite's multi-thread mode), which relies on exactly that.
// Invariant: one thread at a time (the writer, or the reader that checked it out) uses the handle and cache.
final class SQLiteConnection: @unchecked Sendable {
    let path: String
    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]

    /// Opens `path`. `readOnly` connections never create the file.
    init(path: String, readOnly: Bool) throws(StoreError) {
        self.path = path
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        flags |= readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var db: OpaquePointer?
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            sqlite3_close(db)
            throw StoreError.sqlite(
                status, message: message, context: "cannot open \(readOnly ? "read-only " : "")database \(path)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { close() }

    /// Finalizes every cached statement and closes the connection. Idempotent.
    func close() {
        guard let db = handle else { return }
        for statement in statements.values { statement.finalize() }
        statements.removeAll()
        if sqlite3_close(db) != SQLITE_OK {
            // Only statements we do not know about can keep it open; let SQLite close it when they go.
            sqlite3_close_v2(db)
        }
        handle = nil
    }

    /// The raw handle, for the one SQLite API this type does not wrap (the online backup, `SQLiteBackup`).
    var rawHandle: OpaquePointer { db }

    private var db: OpaquePointer {
        guard let handle else { preconditionFailure("SQLite connection to \(path) used after close") }
        return handle
    }

    func error(_ status: Int32, _ context: @autoclosure () -> String) -> StoreError {
        let message = sqlite3_errmsg(db).map { String(cString: $0) }
        return StoreError.sqlite(status, message: message, context: context())
    }

    /// Runs one or more SQL statements without results (DDL, PRAGMA assignments, transaction control).
    func execute(_ sql: String) throws(StoreError) {
        let status = sqlite3_exec(db, sql, nil, nil, nil)
        guard status == SQLITE_OK else { throw error(status, sql) }
    }

    /// Runs one cached statement without parameters or results, e.g. `BEGIN IMMEDIATE` or `COMMIT`.
    func run(_ sql: String) throws(StoreError) {
        let statement = try cached(sql)
        defer { statement.reset() }
        try statement.step()
    }

    /// What a checkpoint found: the WAL's size and how much of it is in the database now, in frames (pages).
    struct WALCheckpoint: Equatable {
        var walFrames: Int
        var copiedFrames: Int
        /// Every frame of the WAL is in the database (also when the WAL is empty).
        var copiedAll: Bool { copiedFrames == walFrames }
    }

    /// A PASSIVE checkpoint: copies what it can of the WAL into the database without waiting for anyone (not past
    /// the oldest snapshot a reader still uses). Nil when it could not run (another connection was checkpointing).
    func checkpointPassive() -> WALCheckpoint? {
        var walFrames: Int32 = 0
        var copiedFrames: Int32 = 0
        let status = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, &walFrames, &copiedFrames)
        return status == SQLITE_OK ? WALCheckpoint(walFrames: Int(walFrames), copiedFrames: Int(copiedFrames)) : nil
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(db)) }

    /// Rows changed by every INSERT, UPDATE and DELETE since the connection opened (also those rolled back): a
    /// field read, no query.
    var totalChanges: Int64 { sqlite3_total_changes64(db) }

    /// How long a statement waits for another connection's lock before failing with `SQLITE_BUSY`.
    func setBusyTimeout(_ timeout: Duration) throws(StoreError) {
        let (seconds, attoseconds) = timeout.components
        let millis = max(0, min(Int64(Int32.max), seconds * 1_000 + attoseconds / 1_000_000_000_000_000))
        let status = sqlite3_busy_timeout(db, Int32(millis))
        guard status == SQLITE_OK else { throw error(status, "set busy_timeout") }
    }

    /// Runs a query (typically a PRAGMA) and returns the first column of its first row as text.
    func scalarText(_ sql: String) throws(StoreError) -> String? {
        let statement = try prepare(sql)
        defer { statement.finalize() }
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.text(0)
    }

    /// Runs a query and returns the first column of its first row as an integer.
    func scalarInt(_ sql: String) throws(StoreError) -> Int64? {
        let statement = try prepare(sql)
        defer { statement.finalize() }
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.int64(0)
    }

    /// A prepared statement for `sql`, from the cache when this connection prepared it before. Callers bind
    /// every parameter, step, and call `reset()` when done (a `defer` right after this call).
    func cached(_ sql: String) throws(StoreError) -> SQLiteStatement {
        if let statement = statements[sql] { return statement }
        let statement = try prepare(sql, persistent: true)
        statements[sql] = statement
        return statement
    }

    /// A fresh prepared statement the caller finalizes.
    func prepare(_ sql: String, persistent: Bool = false) throws(StoreError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let status = sqlite3_prepare_v3(db, sql, -1, flags, &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error(status, "prepare \(sql)") }
        return SQLiteStatement(statement, connection: self, sql: sql)
    }

    /// Closing this connection will never checkpoint the WAL, even as the database's last connection: a
    /// command-line look must leave the files as the daemon has them.
    func disableCheckpointOnClose() throws(StoreError) {
        let status = orderd_sqlite3_no_checkpoint_on_close(db)
        guard status == SQLITE_OK else { throw error(status, "SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE") }
    }

    /// False while a transaction is open.
    var isAutocommit: Bool { sqlite3_get_autocommit(db) != 0 }

    /// Rolls back the open transaction, if any. Used on error paths where the original error is what matters.
    func rollbackQuietly() {
        if !isAutocommit { sqlite3_exec(db, "ROLLBACK", nil, nil, nil) }
    }
}

/// A prepared statement of one `SQLiteConnection`; used only on that connection's thread.
final class SQLiteStatement {
    private var handle: OpaquePointer?
    private unowned let connection: SQLiteConnection
    let sql: String

    fileprivate init(_ handle: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.handle = handle
        self.connection = connection
        self.sql = sql
    }

    deinit { finalize() }

    func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    /// Makes the statement ready for the next use and drops bound values (request bodies can be large).
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Steps once: true when a row is available, false when done.
    @discardableResult
    func step() throws(StoreError) -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let status: throw connection.error(status, sql)
        }
    }

    // MARK: Binding (1-based indices, as in SQL)

    func bind(_ index: Int32, _ value: Int64) throws(StoreError) {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    func bind(_ index: Int32, _ value: String) throws(StoreError) {
        // Explicit byte length: strings round-trip byte for byte, embedded NULs included.
        var value = value
        let status = value.withUTF8 { utf8 in
            // An empty buffer may have no base address, and a NULL pointer would bind SQL NULL.
            utf8.isEmpty
                ? sqlite3_bind_text(handle, index, "", 0, transientDestructor)
                : sqlite3_bind_text(handle, index, utf8.baseAddress, Int32(utf8.count), transientDestructor)
        }
        try check(status)
    }

    func bind(_ index: Int32, _ value: Int64?) throws(StoreError) {
        if let value { try bind(index, value) } else { try check(sqlite3_bind_null(handle, index)) }
    }

    func bind(_ index: Int32, _ value: String?) throws(StoreError) {
        if let value { try bind(index, value) } else { try check(sqlite3_bind_null(handle, index)) }
    }

    /// Binds UTF-8 bytes as TEXT (the caller guarantees they are valid UTF-8), without making a `String`.
    func bind(_ index: Int32, utf8Text: [UInt8]) throws(StoreError) {
        let status = utf8Text.withUnsafeBytes { bytes in
            bytes.isEmpty
                ? sqlite3_bind_text(handle, index, "", 0, transientDestructor)
                : sqlite3_bind_text(
                    handle, index, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(bytes.count),
                    transientDestructor)
        }
        try check(status)
    }

    func bind(_ index: Int32, blob: [UInt8]) throws(StoreError) {
        let status = blob.withUnsafeBytes { bytes in
            bytes.isEmpty
                ? sqlite3_bind_zeroblob(handle, index, 0)
                : sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), transientDestructor)
        }
        try check(status)
    }

    private func check(_ status: Int32) throws(StoreError) {
        guard status == SQLITE_OK else { throw connection.error(status, "bind \(sql)") }
    }

    // MARK: Columns (0-based indices, as in the C API)

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    /// Calls `body` with the UTF-8 bytes of the text in `column` (empty for NULL), valid only during the call.
    func withText<T, E: Error>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
        let bytes = sqlite3_column_text(handle, column)  // before sqlite3_column_bytes, as SQLite asks
        let count = Int(sqlite3_column_bytes(handle, column))
        return try body(UnsafeRawBufferPointer(start: count > 0 ? bytes : nil, count: count))
    }

    /// Whether the blob in `column` has exactly the bytes of `other`.
    func blob(_ column: Int32, equals other: [UInt8]) -> Bool {
        let pointer = sqlite3_column_blob(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count == other.count else { return false }
        guard count > 0, let pointer else { return true }
        return other.withUnsafeBytes { memcmp($0.baseAddress!, pointer, count) == 0 }
    }
}
