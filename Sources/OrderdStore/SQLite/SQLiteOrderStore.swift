import CSQLite
import OrderdConfig
import OrderdOrders
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

extension OutboxInsertion {
    var writeStep: OrderWriteStep {
        OrderWriteStep(name: "outbox") { [self] (connection, order) throws(StoreError) in
            let settings = self.settings
            var throttled: String?
            if let limit = settings.perRecipient, settings.kinds.contains(.sms),
               try !RecipientRows.admit(
                   phone: order.order.customer.phone, nowMillis: order.createdAtMillis, limit: limit, on: connection)
            {
                throttled = RecipientThrottle.message(limit)
                order.smsThrottled = true
            }
            try OutboxRows.insert(
                orderID: order.id, kinds: settings.kinds, createdAtMillis: order.createdAtMillis, owner: owner,
                leaseUntilMillis: order.createdAtMillis + settings.lease.millis, throttled: throttled, on: connection)
        }
    }
}

/// The order store on one SQLite file in WAL mode, with group commit.
///
/// Writes go through a single writer thread with its own connection: request threads queue their order and
/// block; the writer commits everything queued in one transaction (one fsync at `synchronous=FULL`) and then
/// answers every request in it. One writer keeps tail latency sane: measured here, one connection per thread
/// with `busy_timeout` starved a thread for up to 3 s at FULL, and one FULL commit per request caps at about
/// 4.5k orders/s. Reads use separate read-only connections and never wait for the writer.
///
/// Uses the SQLite C API directly rather than GRDB, because GRDB's `DatabasePool` resets `synchronous` to
/// NORMAL when it opens.
package final class SQLiteOrderStore: OrderStore, Sendable {
    /// The database file.
    package let path: String
    private let queue = WriteQueue()
    let readers: SQLiteReaderPool
    private let writerThread: OwnedThread
    private let checkpointer: WALCheckpointer
    /// Whether `close()` ran; held for the whole close, so a second caller returns once the first is done.
    private let isClosed = PThreadLocked(false)
    /// `PRAGMA` values read back from the writer connection after it was configured.
    let writerSettings: ConnectionSettings

    /// Values read back from a connection after configuring it.
    struct ConnectionSettings: Sendable, Equatable {
        /// `PRAGMA journal_mode`, e.g. `wal`.
        var journalMode: String
        /// `PRAGMA synchronous`: 2 is FULL, 1 is NORMAL.
        var synchronous: Int64
        /// `PRAGMA foreign_keys`.
        var foreignKeys: Bool
    }

    /// Internal knobs with production defaults; tests shrink them.
    struct Tuning: Sendable {
        var writer = GroupCommitWriter.Tuning()
        /// Read-only connections kept open for reuse.
        var maxIdleReaders = 32
        /// The WAL size (pages) from which the writer lets it start over (`WALCheckpointer`).
        var walRestartFrames = WALCheckpointer.defaultRestartFrames
    }

    /// Opens (or creates) the database at `settings.store.path`, migrates it, and starts the writer.
    ///
    /// With `outbox`, every new order gets its durable follow-up tasks in its own transaction.
    /// The directory must exist. Errors name the path in their `debugDescription`; log that
    /// (`String(reflecting: error)`), not `description`.
    package convenience init(settings: StoreSettings, outbox: OutboxInsertion? = nil) throws(StoreError) {
        try self.init(
            store: settings.store, idempotencyTTL: settings.idempotencyTTL,
            writeSteps: outbox.map { [$0.writeStep] } ?? [], retention: settings.retention)
    }

    /// Opens (or creates) the database at `store.path`, migrates it, and starts the writer.
    ///
    /// - Parameter idempotencyTTL: how long an idempotency key is remembered (`orders.idempotency_ttl`).
    package convenience init(store: OrderdConfiguration.Store, idempotencyTTL: Duration) throws(StoreError) {
        try self.init(store: store, idempotencyTTL: idempotencyTTL, writeSteps: [])
    }

    /// - Parameters:
    ///   - writeSteps: extra rows written in the same transaction as each new order (the outbox).
    ///   - wallClock: milliseconds since the Unix epoch; tests move it to expire idempotency keys.
    ///   - retention: `outbox.retention`: the writer deletes done tasks older than this; zero keeps them.
    init(
        store: OrderdConfiguration.Store,
        idempotencyTTL: Duration,
        writeSteps: [OrderWriteStep],
        tuning: Tuning = Tuning(),
        wallClock: @escaping @Sendable () -> Int64 = WallClock.unixMillis,
        retention: Duration = .zero
    ) throws(StoreError) {
        let path = store.path
        self.path = path
        try Self.checkDirectory(of: path)

        // The writer connection opens first and alone: it switches the file to WAL (a persistent setting that
        // must be made while no other connection is open) and migrates the schema.
        let writerConnection = try SQLiteConnection(path: path, readOnly: false)
        writerSettings = try Self.configure(writerConnection, store, setWAL: true)
        try SQLiteSchema.migrate(writerConnection)

        readers = SQLiteReaderPool(maxIdle: tuning.maxIdleReaders) { () throws(StoreError) -> SQLiteConnection in
            let connection = try SQLiteConnection(path: path, readOnly: true)
            _ = try Self.configure(connection, store, setWAL: false)
            return connection
        }
        // Fail now, not on the first GET, if read-only connections cannot be opened.
        try readers.withConnection { (_: SQLiteConnection) throws(StoreError) in }

        let checkpointConnection = try SQLiteConnection(path: path, readOnly: false)
        _ = try Self.configure(checkpointConnection, store, setWAL: false)
        checkpointer = WALCheckpointer(
            connection: checkpointConnection, restartFrames: tuning.walRestartFrames,
            observer: { [queue] in queue.commitObserver })
        let writer = GroupCommitWriter(
            connection: writerConnection,
            checkpointer: checkpointer,
            queue: queue,
            idempotencyTTL: idempotencyTTL,
            steps: writeSteps,
            tuning: tuning.writer,
            wallClock: wallClock,
            retention: retention,
            busyTimeout: store.busyTimeout
        )
        try checkpointer.start()
        do {
            writerThread = try OwnedThread(name: "orderd-writer") { writer.run() }
        } catch {
            throw StoreError(error)
        }
    }

    deinit { close() }

    package func create(
        _ order: NewOrder,
        idempotency: IdempotencyRequest?,
        deadline: ContinuousClock.Instant
    ) throws(StoreError) -> CreateOutcome {
        let write = PendingWrite(order: order, idempotency: idempotency, deadline: deadline)
        try queue.enqueue(write)
        return try write.awaitOutcome()
    }

    /// Queues the write and returns; the writer thread calls `completion` once the batch holding it committed or
    /// failed, or when it finds the write's deadline passed before it got to it.
    package func create(
        _ order: NewOrder,
        idempotency: IdempotencyRequest?,
        deadline: ContinuousClock.Instant,
        answerBy: ContinuousClock.Instant,
        completion: @escaping @Sendable (Result<CreateOutcome, StoreError>) -> Void
    ) {
        do throws(StoreError) {
            try queue.enqueue(PendingWrite(order: order, idempotency: idempotency, deadline: deadline, completion: completion))
        } catch {
            completion(.failure(error))
        }
    }

    package func order(id: String) throws(StoreError) -> StoredOrder? {
        try readers.withConnection { (connection) throws(StoreError) -> StoredOrder? in
            try OrderRows.fetch(id: id, on: connection)
        }
    }

    package func close() {
        isClosed.withLock { isClosed in
            guard !isClosed else { return }
            isClosed = true
            // Readers first, before the writer is told to stop: the writer's final checkpoint and close can
            // only remove the -wal and -shm files once no other connection has the database open.
            readers.close()
            checkpointer.stop()
            queue.stop()
            writerThread.join()  // the writer commits what is queued, then closes its connection
        }
    }

    /// What the group-commit writer has done so far.
    var statistics: GroupCommitStatistics { queue.statistics }

    /// Whether the WAL checkpointer sleeps until the writer's next change, for tests.
    var checkpointerIdle: Bool { checkpointer.isIdle }

    /// Writes queued and not yet taken by the writer.
    package var queuedWrites: Int? { queue.count }

    /// Metrics hook: `observer` gets every transaction of the writer from now on.
    package func observeCommits(_ observer: any CommitObserver) { queue.commitObserver = observer }

    /// SQLite would only say "unable to open database file"; name the directory that is missing instead.
    /// The directory is not created: a wrong `store.path` should stop the start, not scatter databases.
    private static func checkDirectory(of path: String) throws(StoreError) {
        // SQLite would open "" as a private temporary database and lose every order at exit.
        guard !path.isEmpty else { throw StoreError.unavailable("store.path is empty") }
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        var info = stat()
        guard stat(directory, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            throw StoreError.unavailable("store.path \(path): directory \(directory) is not usable: \(reason)")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw StoreError.unavailable("store.path \(path): \(directory) is not a directory")
        }
    }

    /// Applies the per-connection settings and reads them back, so a setting SQLite ignored (as GRDB's reset
    /// of `synchronous` would be) stops the start instead of silently weakening durability.
    private static func configure(
        _ connection: SQLiteConnection,
        _ store: OrderdConfiguration.Store,
        setWAL: Bool
    ) throws(StoreError) -> ConnectionSettings {
        try connection.setBusyTimeout(store.busyTimeout)
        if setWAL {
            let mode = try connection.scalarText("PRAGMA journal_mode = WAL")
            guard mode?.lowercased() == "wal" else {
                throw StoreError.unavailable(
                    "\(connection.path): journal_mode stayed \(mode ?? "unknown") after PRAGMA journal_mode = WAL")
            }
            // No automatic checkpoints in the writer: `WALCheckpointer` does them beside it. The WAL file is cut
            // back to 64 MiB when it restarts, so a burst does not leave a huge file behind.
            try connection.execute("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864")
        }
        let synchronous: Int64
        switch store.synchronous {
        case .full: synchronous = 2
        case .normal: synchronous = 1
        }
        try connection.execute("PRAGMA synchronous = \(synchronous); PRAGMA foreign_keys = ON")
        let settings = ConnectionSettings(
            journalMode: try connection.scalarText("PRAGMA journal_mode")?.lowercased() ?? "",
            synchronous: try connection.scalarInt("PRAGMA synchronous") ?? -1,
            foreignKeys: try connection.scalarInt("PRAGMA foreign_keys") == 1
        )
        guard settings.synchronous == synchronous, settings.foreignKeys else {
            throw StoreError.internalError(
                "\(connection.path): PRAGMA synchronous/foreign_keys did not take effect (synchronous=\(settings.synchronous), foreign_keys=\(settings.foreignKeys))")
        }
        return settings
    }
}

extension SQLiteOrderStore: OutboxStore {
    package func claimDue(
        owner: String, skipping: [TaskKind], limit: Int, nowMillis: Int64, leaseUntilMillis: Int64
    ) throws(StoreError) -> ClaimResult {
        guard limit > 0 else { return ClaimResult() }
        // Written by the writer thread, read here after `awaitOutcome()`.
        let box = PThreadLocked(ClaimResult())
        let call = WriterCall { (connection) throws(StoreError) in
            let claimed = try OutboxRows.claim(
                owner: owner, skipping: skipping, limit: limit, nowMillis: nowMillis, leaseUntilMillis: leaseUntilMillis,
                on: connection)
            box.withLock { $0 = claimed }
        }
        try queue.enqueue(call)
        try call.awaitOutcome()
        return box.withLock { $0 }
    }

    package func record(_ change: OutboxChange) {
        queue.enqueue(change)
    }

    package func tasks(in state: TaskRecord.State?, limit: Int) throws(StoreError) -> [TaskRecord] {
        try readers.withConnection { (connection) throws(StoreError) -> [TaskRecord] in
            try OutboxRows.list(in: state, limit: limit, on: connection)
        }
    }

    package func retryDead(_ key: TaskKey, nowMillis: Int64) throws(StoreError) -> Bool {
        let box = PThreadLocked(false)
        let call = WriterCall { (connection) throws(StoreError) in
            let retried = try OutboxRows.retryDead(key, nowMillis: nowMillis, on: connection)
            box.withLock { $0 = retried }
        }
        try queue.enqueue(call)
        try call.awaitOutcome()
        return box.withLock { $0 }
    }

    package func counts(includingDone: Bool) throws(StoreError) -> OutboxCounts {
        try readers.withConnection { (connection) throws(StoreError) -> OutboxCounts in
            try OutboxRows.counts(includingDone: includingDone, on: connection)
        }
    }
}
