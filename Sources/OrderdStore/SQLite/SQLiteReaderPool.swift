import OrderdSupport

/// Read-only connections for `order(id:)`, so reads never wait behind the writer (WAL readers see the last
/// commit and do not block it). Opened on demand; up to `maxIdle` are kept for reuse. A connection is used by
/// one thread at a time: the one that checked it out.
final class SQLiteReaderPool: Sendable {
    private struct State {
        var idle: [SQLiteConnection] = []
        var closed = false
    }

    private let state = PThreadLocked(State())
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
        let reused: SQLiteConnection? = try state.withLock { (state) throws(StoreError) -> SQLiteConnection? in
            guard !state.closed else { throw StoreError.unavailable("the order store is closed") }
            return state.idle.popLast()
        }
        if let reused { return reused }
        return try open()  // outside the lock: opening reads the schema
    }

    private func checkIn(_ connection: SQLiteConnection) {
        let keep = state.withLock { state in
            guard !state.closed, state.idle.count < maxIdle else { return false }
            state.idle.append(connection)
            return true
        }
        if !keep { connection.close() }
    }

    /// Closes the idle connections; connections in use close when they come back.
    func close() {
        let connections = state.withLock { state in
            state.closed = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        for connection in connections { connection.close() }
    }
}
