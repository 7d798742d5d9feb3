import OrderdSupport

/// Read-only connections for `order(id:)`, so reads never wait behind the writer (WAL readers see the last
/// commit and do not block it). Opened on demand; up to `maxIdle` are kept for reuse.
///
/// `@unchecked Sendable`: `idle` and `closed` are only touched with `mutex` held, and a connection is used by
/// one thread at a time (the one that checked it out).
final class SQLiteReaderPool: @unchecked Sendable {
    private let mutex = PThreadMutex()
    private var idle: [SQLiteConnection] = []
    private var closed = false
    private let maxIdle: Int
    private let open: @Sendable () throws(StoreError) -> SQLiteConnection

    init(maxIdle: Int, open: @escaping @Sendable () throws(StoreError) -> SQLiteConnection) {
        self.maxIdle = maxIdle
        self.open = open
    }

    /// Runs `body` with a connection of its own. A connection that saw an error is closed, not reused.
    func withConnection<T>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        let connection = try checkOut()
        do throws(StoreError) {
            let value = try body(connection)
            checkIn(connection)
            return value
        } catch {
            connection.close()
            throw error
        }
    }

    private func checkOut() throws(StoreError) -> SQLiteConnection {
        let reused: SQLiteConnection? = try mutex.withLock { () throws(StoreError) -> SQLiteConnection? in
            guard !closed else { throw StoreError.unavailable("the order store is closed") }
            return idle.popLast()
        }
        if let reused { return reused }
        return try open()  // outside the lock: opening reads the schema
    }

    private func checkIn(_ connection: SQLiteConnection) {
        let keep = mutex.withLock {
            guard !closed, idle.count < maxIdle else { return false }
            idle.append(connection)
            return true
        }
        if !keep { connection.close() }
    }

    /// Closes the idle connections; connections in use close when they come back.
    func close() {
        let connections = mutex.withLock {
            closed = true
            defer { idle.removeAll() }
            return idle
        }
        for connection in connections { connection.close() }
    }
}
