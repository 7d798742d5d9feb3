import Logging
import NIOCore
import NIOSSL
import OrderdConfig
import OrderdOrders
import OrderdSupport
import PostgresNIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The order store on PostgreSQL (`[store] driver = postgres`), shared by every orderd instance that points at
/// the same database.
///
/// The same `OrderStore`/`OutboxStore` contract as `SQLiteOrderStore`, so the HTTP layer and the executor do not
/// know which one they have. What differs:
/// - **No writer thread.** Each order is one statement (the order row, its idempotency key and its outbox rows
///   in one `INSERT … WITH`), so one round trip and PostgreSQL's own commit (and its group commit across
///   connections) make it durable. The request thread waits for that statement and nothing else.
/// - **A pool** (postgres-nio's `PostgresClient`, `store.pool_size` connections). A request that gets no
///   connection before its deadline is answered `busy` (503) and never written.
/// - **Bounded waits, known outcomes.** Every connection asks for `statement_timeout` = `server.request_timeout`
///   and `synchronous_commit` = `store.synchronous_commit` in its startup message, and the first use of each
///   checks the latter. A request thread waits for its insert until shortly before its deadline; when no answer
///   came by then, or the connection broke after the statement left, it ends the server process that had the
///   statement and looks the order up by its id (generated before the insert) on another connection: found is
///   a 201, absent is a 503 "nothing was stored", and a lookup that fails too is `outcomeUnknown` (`settle`).
/// - **A shared outbox.** Instances claim due tasks with `FOR UPDATE SKIP LOCKED` under a lease; a dead
///   instance's leases run out and the others take its tasks over. Outcomes (`record`) are written by one
///   background task per instance in small transactions.
/// - **Migrations** run once under an advisory lock, however many instances start at once (`PostgresSchema`).
///
/// Blocking calls come from our own threads (request threads, the dispatcher, the CLI): each runs its query as
/// a Swift Task on `PostgresExecutor`'s threads and waits for it (`PostgresCall`).
package final class PostgresOrderStore: OrderStore, Sendable {
    package let url: PostgresURL
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let logger: Logger
    private let idempotencyTTLMillis: Int64
    private let outbox: OutboxInsertion?
    // Taken by every request thread for every order: a pthread mutex, not a `Synchronization.Mutex` (see
    // PThreadLocked).
    private let ids = PThreadLocked(UUIDv7Generator())
    private let wallClock: @Sendable () -> Int64
    /// Longest wait for a read or an outbox call (`store.busy_timeout`).
    private let callTimeout: Duration
    private let changes: OutboxChangeWriter
    private let closed = Atomic<Bool>(false)
    private let commitObserver = Mutex<(any CommitObserver)?>(nil)
    /// `outbox.retention`, in the serving process only (the one with an `outbox`), not in `orderd tasks`.
    private let retention: PostgresRetention?
    /// Each pooled connection's server process, learnt on its first insert (`backend(of:)`). Pool connection ids
    /// are never reused; the table is emptied when it outgrows the pool by far (closed connections' entries).
    private let backends = Mutex<[PostgresConnection.ID: PostgresBackend]>([:])
    private let poolSize: Int
    /// For the lookups that settle an unknown outcome: a connection of their own, made for each, since the
    /// pool may be full of connections that went silent with the insert's.
    private let lookupConfiguration: PostgresConnection.Configuration
    /// `PostgresInsert.lookupReserve`; tests lengthen it so that a slow machine does not decide their outcome.
    let lookupReserveMillis = Atomic<Int64>(PostgresInsert.lookupReserve.millis)
    private let synchronousCommit: OrderdConfiguration.Store.SynchronousCommit
    /// The threads every Task of the store runs on (`PostgresExecutor`).
    private let executor: PostgresExecutor

    /// Connects (failing with PostgreSQL's own reason: unreachable, authentication, missing database), migrates
    /// the schema, and starts the pool.
    ///
    /// - Parameters:
    ///   - outbox: with it, every new order gets its durable follow-up tasks in the same statement.
    ///   - logger: for the pool's connection problems and the outbox writer's failures.
    ///   - migrate: false for `orderd tasks`, which never migrates: a schema of another version is refused.
    package init(
        settings storeSettings: StoreSettings,
        outbox: OutboxInsertion? = nil,
        logger: Logger = Logger(label: "orderd.store", factory: { _ in SwiftLogNoOpLogHandler() }),
        wallClock: @escaping @Sendable () -> Int64 = WallClock.unixMillis,
        retentionInterval: Duration = .seconds(10),
        migrate: Bool = true
    ) throws(StoreError) {
        let store = storeSettings.store
        let executor = try PostgresExecutor.shared()
        self.executor = executor
        guard let url = PostgresURL(store.url) else {
            throw StoreError.unavailable("store.url is not a postgres:// URL (driver = postgres needs one)")
        }
        self.url = url
        self.logger = logger
        self.outbox = outbox
        self.wallClock = wallClock
        idempotencyTTLMillis = storeSettings.idempotencyTTL.millis
        callTimeout = store.busyTimeout
        poolSize = store.poolSize
        synchronousCommit = store.synchronousCommit
        let settings = Self.startupSettings(storeSettings)
        let password = try Self.password(store)
        let tlsSettings = try Self.tlsSettings(url)

        // One plain connection first: it reports the real reason when PostgreSQL cannot be used (the pool would
        // only retry and trip its circuit breaker), and it runs the migrations.
        var single: PostgresConnection.Configuration
        if let socketPath = url.socketPath {
            single = .init(unixSocketPath: socketPath, username: url.user, password: password, database: url.database)
        } else {
            var tls = PostgresConnection.Configuration.TLS.disable
            if let tlsSettings {
                do {
                    let context = try NIOSSLContext(configuration: tlsSettings.configuration)
                    tls = tlsSettings.required ? .require(context) : .prefer(context)
                } catch {
                    throw StoreError.unavailable("TLS for PostgreSQL at \(url.endpoint): \(error)")
                }
            }
            single = .init(host: url.host ?? "", port: url.port, username: url.user, password: password, database: url.database, tls: tls)
        }
        single.options.connectTimeout = .nanoseconds(store.connectTimeout.nanos)
        // No statement_timeout here: migrations may take longer than a request.
        single.options.additionalStartupParameters = [("synchronous_commit", store.synchronousCommit.rawValue)]
        if let name = url.applicationName { single.options.additionalStartupParameters.append(("application_name", name)) }
        let singleConfiguration = single
        var lookup = single
        lookup.options.additionalStartupParameters.insert(settings[0], at: 0)
        lookupConfiguration = lookup
        let expectedCommit = store.synchronousCommit.rawValue
        let owner = outbox?.owner ?? OutboxInsertion.makeOwner()
        let migrationLogger = logger
        let endpoint = url.endpoint
        let applied = try PostgresCall.run(
            "connect to PostgreSQL at \(endpoint)", on: executor, deadline: .now + store.connectTimeout + .seconds(60)
        ) {
            let connection: PostgresConnection
            do {
                connection = try await PostgresConnection.connect(configuration: singleConfiguration, id: 1, logger: migrationLogger)
            } catch {
                guard let failure = PostgresTLSFailure(error) else { throw error }
                throw StoreError.unavailable("connect to PostgreSQL at \(endpoint): \(failure.message(url))")
            }
            do {
                try await Self.checkSynchronousCommit(on: connection, expected: expectedCommit, logger: migrationLogger)
                let applied = migrate
                    ? try await PostgresSchema.migrate(connection, by: owner, logger: migrationLogger)
                    : try await PostgresSchema.requireCurrent(connection, database: endpoint, logger: migrationLogger)
                try await connection.close()
                return applied
            } catch {
                try? await connection.close()
                throw error
            }
        }
        if !applied.isEmpty {
            logger.notice("migrated the PostgreSQL schema", metadata: [
                "versions": "\(applied.map(String.init).joined(separator: ","))", "database": "\(endpoint)"])
        }

        var pooled: PostgresClient.Configuration
        if let socketPath = url.socketPath {
            pooled = .init(unixSocketPath: socketPath, username: url.user, password: password, database: url.database)
        } else {
            var tls = PostgresClient.Configuration.TLS.disable
            if let tlsSettings {
                tls = tlsSettings.required ? .require(tlsSettings.configuration) : .prefer(tlsSettings.configuration)
            }
            pooled = .init(host: url.host ?? "", port: url.port, username: url.user, password: password, database: url.database, tls: tls)
        }
        pooled.options.connectTimeout = store.connectTimeout
        pooled.options.maximumConnections = store.poolSize
        pooled.options.minimumConnections = 0
        pooled.options.additionalStartupParameters = settings
        if let name = url.applicationName { pooled.options.additionalStartupParameters.append(("application_name", name)) }
        let client = PostgresClient(configuration: pooled, backgroundLogger: logger)
        self.client = client
        runTask = Task(executorPreference: executor) { await client.run() }
        changes = OutboxChangeWriter(client: client, executor: executor, idempotencyTTLMillis: idempotencyTTLMillis, wallClock: wallClock, logger: logger)
        retention = outbox == nil ? nil : PostgresRetention(
            client: client, executor: executor, retention: storeSettings.retention, interval: retentionInterval, wallClock: wallClock,
            logger: logger)
    }

    deinit { close() }

    // MARK: - OrderStore

    package func create(
        _ order: NewOrder,
        idempotency: IdempotencyRequest?,
        deadline: ContinuousClock.Instant
    ) throws(StoreError) -> CreateOutcome {
        try create(order, idempotency: idempotency, deadline: deadline, answerBy: deadline)
    }

    package func create(
        _ order: NewOrder,
        idempotency: IdempotencyRequest?,
        deadline: ContinuousClock.Instant,
        answerBy: ContinuousClock.Instant
    ) throws(StoreError) -> CreateOutcome {
        guard !closed.load(ordering: .acquiring) else { throw StoreError.unavailable("the store is closed") }
        guard ContinuousClock.now < deadline else {
            throw StoreError.deadlinePassed("deadline passed before the write was queued")
        }
        let (id, millis) = ids.withLock { $0.next(nowMillis: wallClock()) }
        let write = PostgresInsert(
            stored: StoredOrder(id: id, createdAtMillis: millis, order: order), idempotency: idempotency, takeUpBy: deadline)
        Task(executorPreference: executor) { [self] in
            do {
                try await client.withConnection { connection in
                    let backend: PostgresBackend
                    do {
                        backend = try await self.backend(of: connection)
                    } catch {
                        write.finish(.failure(PostgresCall.storeError(error, "prepare a connection for an order")))
                        return
                    }
                    guard write.send(now: .now, on: backend) else { return }
                    let started = ContinuousClock.now
                    var committed = false
                    do {
                        let outcome = try await self.insert(write, on: connection)
                        committed = true
                        write.finish(.success(outcome))
                    } catch {
                        if Self.statementFailed(error) {
                            write.finish(.failure(PostgresCall.storeError(error, "insert an order")))
                        } else {
                            write.finishUnknown("insert an order: \(PostgresCall.storeError(error, "the connection failed").debugDescription)")
                        }
                    }
                    self.commitObserver.withLock { $0 }?.transactionFinished(
                        duration: .now - started, orders: 1, committed: committed)
                }
            } catch {
                // No connection: the write was never sent.
                write.finish(.failure(PostgresCall.storeError(error, "get a connection for an order")))
            }
        }
        let reserve = Duration.milliseconds(lookupReserveMillis.load(ordering: .relaxed))
        switch write.awaitOutcome(answerBy: max(answerBy, deadline), lookupReserve: reserve) {
        case .settled(let result):
            return try result.get()
        case .unknown(let backend, let reason):
            return try settle(write, sentOn: backend, reason: reason, answerBy: max(answerBy, deadline))
        }
    }

    /// No writer queue: each request thread sends its own statement.
    package var queuedWrites: Int? { nil }

    package func order(id: String) throws(StoreError) -> StoredOrder? {
        try call("read an order") { client in
            let rows = try await client.query("SELECT \(unescaped: OrderRows.orderColumns) FROM orders WHERE id = \(id)")
            for try await row in rows { return try Self.decodeOrder(row) }
            return nil
        }
    }

    package func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        retention?.stop()
        changes.stop()  // writes what is queued first
        runTask.cancel()  // closes the pool's connections
        _ = try? PostgresCall.run("close the pool", on: executor, deadline: .now + .seconds(10)) { [runTask] in await runTask.value }
    }

    /// Waits until the outbox changes recorded so far are written (tests; `close` does it too).
    func flushOutboxChanges() -> Bool { changes.flush() }

    /// Metrics hook: `observer` gets every order's statement from now on.
    package func observeCommits(_ observer: any CommitObserver) { commitObserver.withLock { $0 = observer } }

    // MARK: - Writing an order

    // `r`: `task.sms.per_recipient` ($16 sends per $17 ms, $16 = 0: off) for recipient $15, only for an order
    // actually inserted. ON CONFLICT DO UPDATE locks the recipient's row: a second instance's statement for the same
    // number waits for this transaction and then sees its send, so the limit is exact across instances. The
    // update's WHERE refuses a send when $16 of the kept ones are within the window; then `r` returns no row and
    // the SMS task is written dead. `f`: a few recipients whose last send is older than any window are forgotten
    // (SKIP LOCKED: never a wait for another instance doing the same).
    private static let insertOrder = """
        WITH o AS (
            INSERT INTO orders (id, created_at_ms, phone, email, currency, total_cents, note, items, idempotency_key, request_body, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $14)
            ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            RETURNING id),
        r AS (
            INSERT INTO sms_recipients AS cur (recipient, sent_ms, last_ms)
            SELECT $15, ARRAY[$2], $2 FROM o WHERE $16 > 0 AND 'sms' = ANY ($13::text[])
            ON CONFLICT (recipient) DO UPDATE
                SET sent_ms = array_append(ARRAY(SELECT s FROM unnest(cur.sent_ms) AS s WHERE s > $2 - $17 ORDER BY s), $2),
                    last_ms = $2
                WHERE (SELECT count(*) FROM unnest(cur.sent_ms) AS s WHERE s > $2 - $17) < $16
            RETURNING 1),
        x AS (
            SELECT EXISTS (SELECT 1 FROM o) AND $16 > 0 AND 'sms' = ANY ($13::text[]) AND NOT EXISTS (SELECT 1 FROM r)
                AS throttled),
        f AS (
            DELETE FROM sms_recipients WHERE $16 > 0 AND recipient = ANY (ARRAY(
                SELECT recipient FROM sms_recipients WHERE last_ms < $2 - $19 AND recipient <> $15
                ORDER BY last_ms LIMIT $20 FOR UPDATE SKIP LOCKED))),
        t AS (
            INSERT INTO tasks (order_id, kind, state, created_at_ms, age_from_ms, available_at_ms, lease_owner, lease_until_ms,
                finished_at_ms, last_error)
            SELECT o.id, k.kind, CASE WHEN d THEN 'dead' ELSE 'pending' END, $2, $2, $2,
                CASE WHEN d THEN NULL ELSE $11 END, CASE WHEN d THEN NULL ELSE $12 END,
                CASE WHEN d THEN $2 END, CASE WHEN d THEN $18 END
            FROM o CROSS JOIN unnest($13::text[]) AS k (kind) CROSS JOIN LATERAL (
                SELECT k.kind = 'sms' AND (SELECT throttled FROM x) AS d) AS throttle)
        SELECT (SELECT count(*)::integer FROM o), (SELECT throttled FROM x)
        """

    /// One statement, one transaction: the order, its key and body, and its outbox rows. When the key is taken:
    /// the same body replays, another body is a conflict, an expired key is given up and the insert tried again.
    private func insert(_ write: PostgresInsert, on connection: PostgresConnection) async throws -> CreateOutcome {
        let now = wallClock()
        let stored = write.stored
        let (id, millis) = (stored.id, stored.createdAtMillis)
        let order = stored.order
        var binds = PostgresBindings(capacity: 20)
        binds.append(stored.id)
        binds.append(millis)
        binds.append(order.customer.phone)
        binds.append(order.customer.email)
        binds.append(order.currency)
        binds.append(order.totalCents)
        binds.append(order.note)
        binds.append(String(decoding: OrderRows.encodeItems(order.items), as: UTF8.self))
        binds.append(write.idempotency?.key)
        binds.append(write.idempotency.map { ByteBuffer(bytes: $0.body) })
        let settings = outbox?.settings ?? OutboxInsertion.Settings(kinds: [], lease: .zero, perRecipient: nil)
        binds.append(outbox?.owner ?? "")
        binds.append(millis + settings.lease.millis)
        binds.append(settings.kinds.map(\.rawValue))
        binds.append(order.createdBy)
        binds.append(ByteBuffer(bytes: RecipientThrottle.key(phone: order.customer.phone)))
        binds.append(Int64(settings.perRecipient?.count ?? 0))
        binds.append(settings.perRecipient?.window.millis ?? 0)
        binds.append(settings.perRecipient.map(RecipientThrottle.message) ?? "")
        binds.append(RecipientThrottle.forgetAfter.millis)
        binds.append(Int64(RecipientThrottle.forgetPerOrder))
        let statement = PostgresQuery(unsafeSQL: Self.insertOrder, binds: binds)
        for _ in 0..<3 {
            let answer = try await connection.query(statement, logger: logger).decode((Int32, Bool).self)
                .first(where: { _ in true })
            if let (inserted, throttled) = answer, inserted == 1 {
                var created = stored
                created.smsThrottled = throttled
                return .created(created)
            }
            guard let request = write.idempotency else { throw StoreError.internalError("insert of order \(id) wrote no row") }
            // The key is taken (or was, a moment ago): by which order, and is it still live?
            let rows = try await connection.query(
                "SELECT \(unescaped: OrderRows.orderColumns), request_body FROM orders WHERE idempotency_key = \(request.key)",
                logger: logger)
            guard let row = try await rows.first(where: { _ in true }) else { continue }  // cleared meanwhile
            let existing = try Self.decodeOrder(row)
            guard existing.createdAtMillis &+ idempotencyTTLMillis > now else {
                try await connection.query(
                    "UPDATE orders SET idempotency_key = NULL, request_body = NULL WHERE id = \(existing.id) AND idempotency_key = \(request.key)",
                    logger: logger)
                continue
            }
            let body = try row.decode((String, Int64, String, String?, String, Int64, String?, String, ByteBuffer?).self).8
            guard let body, body.readableBytesView.elementsEqual(request.body) else { throw StoreError.idempotencyConflict() }
            return .replayed(existing)
        }
        throw StoreError.deadlinePassed("idempotency key \(write.idempotency?.key.count ?? 0) bytes long kept changing hands")
    }

    /// True when the server answered the statement with an error, so its transaction was rolled back: a
    /// check of our own, or any SQLSTATE but a connection failure (08) or a shutdown (57P), which PostgreSQL
    /// may send for a transaction it has already committed (a synchronous standby's wait cut short). Anything
    /// else after the statement left (the connection closed, a reset, an answer we could not decode) leaves
    /// the outcome open.
    static func statementFailed(_ error: any Error) -> Bool {
        if error is StoreError { return true }
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return !state.hasPrefix("08") && !state.hasPrefix("57P")
    }

    /// Learns an insert's outcome that its own connection did not deliver, within what is left until `answerBy`.
    ///
    /// On a connection of its own, made for this lookup (the pool may be full of connections that went silent
    /// like the insert's, and a leased connection stuck mid-statement was seen to keep postgres-nio 1.33's pool
    /// from opening another for seconds): first the server process that had the statement is ended (`pg_terminate_backend`,
    /// waiting for it to exit), so that a statement still running, waiting for a lock, or still on its way
    /// through the network can no longer commit afterwards; then the order is read by its id. Found: it was
    /// stored, and is answered as created (the caller hands it to the follow-ups like any new order). Absent:
    /// provably not stored, `unavailable`. The lookup failing or not finishing in time: `outcomeUnknown`.
    private func settle(
        _ write: PostgresInsert, sentOn backend: PostgresBackend, reason: String, answerBy: ContinuousClock.Instant
    ) throws(StoreError) -> CreateOutcome {
        let id = write.stored.id
        let configuration = lookupConfiguration
        let logger = logger
        let found: StoredOrder?
        do {
            found = try PostgresCall.run("look up an order whose insert outcome is unknown", on: executor, deadline: answerBy) {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                do {
                    let order = try await Self.lookUp(id, endingFirst: backend, on: connection, answerBy: answerBy, logger: logger)
                    try? await connection.close()
                    return order
                } catch {
                    try? await connection.close()
                    throw error
                }
            }
        } catch {
            logger.warning("the outcome of an order insert is unknown; the client is told to retry with its key", metadata: [
                "order_id": "\(id)", "reason": "\(reason)", "lookup_error": "\(String(reflecting: error))"])
            throw StoreError.outcomeUnknown("\(reason); looking the order up failed: \(String(reflecting: error))")
        }
        if let found {
            logger.notice("an order insert whose answer was lost is stored", metadata: ["order_id": "\(id)", "reason": "\(reason)"])
            return .created(found)
        }
        logger.notice("an order insert whose answer was lost is not stored", metadata: ["order_id": "\(id)", "reason": "\(reason)"])
        throw StoreError.unavailable("\(reason); order \(id) is not stored (its server process is gone and the lookup found no row)")
    }

    private static func lookUp(
        _ id: String, endingFirst backend: PostgresBackend, on connection: PostgresConnection,
        answerBy: ContinuousClock.Instant, logger: Logger
    ) async throws -> StoredOrder? {
        // Half of what is left for the process to exit, the rest for the lookup itself.
        let waitMillis = max(Int64(1), (answerBy - .now).millis / 2)
        var binds = PostgresBindings(capacity: 3)
        binds.append(waitMillis)
        binds.append(backend.pid)
        binds.append(backend.start)
        let terminate = PostgresQuery(unsafeSQL: terminateBackend, binds: binds)
        for try await ended in try await connection.query(terminate, logger: logger).decode(Bool.self) where !ended {
            throw StoreError.outcomeUnknown("the server process \(backend.pid) that had the insert did not exit in time")
        }
        let rows = try await connection.query("SELECT \(unescaped: OrderRows.orderColumns) FROM orders WHERE id = \(id)", logger: logger)
        guard var order = try await rows.first(where: { _ in true }).map(decodeOrder) else { return nil }
        // Written dead with its order (`task.sms.per_recipient`): the follow-ups must not send it.
        for try await throttled in try await connection.query(
            "SELECT state = 'dead' AND last_error LIKE 'throttled:%' FROM tasks WHERE order_id = \(id) AND kind = 'sms'", logger: logger
        ).decode(Bool.self) {
            order.smsThrottled = throttled
        }
        return order
    }

    /// No row: the process is gone already. `false`: it did not exit within $1 milliseconds.
    private static let terminateBackend = """
        SELECT pg_terminate_backend(pid, $1) FROM pg_stat_activity
        WHERE pid = $2 AND backend_start::text = $3 AND pid <> pg_backend_pid()
        """

    /// The server process of a pooled connection, asked once per connection; the same query checks the
    /// connection's `synchronous_commit` (a pooler between us and PostgreSQL may not pass startup parameters on).
    private func backend(of connection: PostgresConnection) async throws -> PostgresBackend {
        if let known = backends.withLock({ $0[connection.id] }) { return known }
        let rows = try await connection.query(
            "SELECT pid, backend_start::text, current_setting('synchronous_commit') FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            logger: logger)
        for try await (pid, start, synchronousCommit) in rows.decode((Int32, String, String).self) {
            guard synchronousCommit == self.synchronousCommit.rawValue else {
                let problem = Self.synchronousCommitMismatch(seen: synchronousCommit, expected: self.synchronousCommit.rawValue)
                logger.error("a PostgreSQL connection is not used: \(problem)")
                throw StoreError.unavailable(problem)
            }
            let backend = PostgresBackend(pid: pid, start: start)
            backends.withLock {
                if $0.count >= 4 * poolSize + 16 { $0.removeAll() }
                $0[connection.id] = backend
            }
            return backend
        }
        throw StoreError.internalError("pg_stat_activity has no row for the connection's own server process")
    }

    /// The settings every pooled connection asks for in its startup message. `statement_timeout` is
    /// `server.request_timeout` as orderd started: no statement outlives the request that sent it by much (a
    /// request thread gives up earlier on its own; this ends the server's side of it, e.g. a statement waiting
    /// for a lock whose client is gone). It is fixed when the store starts: a reloaded request_timeout changes
    /// the request threads' own waits only.
    static func startupSettings(_ settings: StoreSettings) -> [(String, String)] {
        let timeout = max(Int64(1), settings.statementTimeout.millis)
        return [
            ("statement_timeout", String(timeout)),
            ("synchronous_commit", settings.store.synchronousCommit.rawValue),
        ]
    }

    /// Refuses a server that reports another `synchronous_commit` than the one asked for.
    private static func checkSynchronousCommit(on connection: PostgresConnection, expected: String, logger: Logger) async throws {
        for try await seen in try await connection.query("SHOW synchronous_commit", logger: logger).decode(String.self) where seen != expected {
            throw StoreError.unavailable(synchronousCommitMismatch(seen: seen, expected: expected))
        }
    }

    static func synchronousCommitMismatch(seen: String, expected: String) -> String {
        "PostgreSQL reports synchronous_commit = \(seen) on orderd's connection, expected \(expected) (store.synchronous_commit); a connection pooler may drop startup parameters, or set store.synchronous_commit to the value the server must use"
    }

    static func decodeOrder(_ row: PostgresRow) throws -> StoredOrder {
        let (id, createdAt, phone, email, currency, total, note, items) = try row.decode(
            (String, Int64, String, String?, String, Int64, String?, String).self)
        let lines = try Array(items.utf8).withUnsafeBytes { (json) throws(StoreError) -> [OrderItem] in
            try OrderRows.decodeItems(json, orderID: id)
        }
        return StoredOrder(
            id: id, createdAtMillis: createdAt,
            order: NewOrder(customer: Customer(phone: phone, email: email), currency: currency, items: lines, note: note, totalCents: total))
    }

    /// Whether a pooled connection is encrypted, as the server sees it (`pg_stat_ssl`): for tests and checks that
    /// must not trust the client's own settings.
    func connectionIsEncrypted() throws(StoreError) -> Bool {
        try call("read pg_stat_ssl") { client in
            let rows = try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            for try await ssl in rows.decode(Bool.self) { return ssl }
            return false
        }
    }

    // MARK: - Support

    /// Runs `body` with the pool and waits at most `store.busy_timeout` for it.
    private func call<Value: Sendable>(
        _ what: String, _ body: @escaping @Sendable (PostgresClient) async throws -> Value
    ) throws(StoreError) -> Value {
        guard !closed.load(ordering: .acquiring) else { throw StoreError.unavailable("the store is closed") }
        let client = client
        return try PostgresCall.run(what, on: executor, deadline: .now + callTimeout) { try await body(client) }
    }

    /// `store.password_file`'s first line (a path or `credential:<name>`), else `$PGPASSWORD`, else none (trust or
    /// peer authentication).
    private static func password(_ store: OrderdConfiguration.Store) throws(StoreError) -> String? {
        if !store.passwordFile.isEmpty {
            do {
                let text = try SecretFile.read(store.passwordFile, key: "store.password_file")
                return String(text.prefix { $0 != "\n" && $0 != "\r\n" })
            } catch {
                throw StoreError.unavailable(error.description)
            }
        }
        if let value = getenv("PGPASSWORD") { return String(cString: value) }
        return nil
    }

    /// libpq's `sslmode` as NIOSSL settings, nil for `disable`: `require` and `prefer` encrypt without checking
    /// the certificate (as libpq does), `verify-full` checks the chain against `sslrootcert` (else the system
    /// trust store) and the host name against the certificate. `required`: fail without TLS.
    private static func tlsSettings(_ url: PostgresURL) throws(StoreError) -> (configuration: TLSConfiguration, required: Bool)? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch url.sslMode {
        case .disable: return nil
        case .verifyFull:
            configuration.certificateVerification = .fullVerification
            if let path = url.rootCertificate {
                // Checked here so that a typo reads as one, not as a handshake failure.
                guard access(path, R_OK) == 0 else {
                    throw StoreError.unavailable(
                        "TLS for PostgreSQL at \(url.endpoint): sslrootcert \(path) cannot be read (\(String(cString: strerror(errno))))")
                }
                configuration.trustRoots = .file(path)
            }
            return (configuration, true)
        case .require, .prefer:
            configuration.certificateVerification = .none
            return (configuration, url.sslMode == .require)
        }
    }
}

// MARK: - OutboxStore

extension PostgresOrderStore: OutboxStore {
    // LEFT JOIN: a task whose order is missing comes back too (with NULL order columns), to be marked dead;
    // an inner join would lease it silently, again every lease_timeout. `$5`: known kinds no handler here runs,
    // left alone.
    private static let claim = """
        WITH claimed AS (
            UPDATE tasks SET lease_owner = $1, lease_until_ms = $2
            WHERE (order_id, kind) IN (
                SELECT order_id, kind FROM tasks
                WHERE state = 'pending' AND available_at_ms <= $3 AND (lease_until_ms IS NULL OR lease_until_ms < $3)
                    AND NOT (kind = ANY($5::text[]))
                ORDER BY available_at_ms LIMIT $4
                FOR UPDATE SKIP LOCKED)
            RETURNING order_id, kind, attempts, age_from_ms)
        SELECT o.id, o.created_at_ms, o.phone, o.email, o.currency, o.total_cents, o.note, o.items,
            c.order_id, c.kind, c.attempts, c.age_from_ms
        FROM claimed c LEFT JOIN orders o ON o.id = c.order_id
        ORDER BY c.order_id
        """

    package func claimDue(
        owner: String, skipping: [TaskKind], limit: Int, nowMillis: Int64, leaseUntilMillis: Int64
    ) throws(StoreError) -> ClaimResult {
        guard limit > 0 else { return ClaimResult() }
        var binds = PostgresBindings(capacity: 5)
        binds.append(owner)
        binds.append(leaseUntilMillis)
        binds.append(nowMillis)
        binds.append(Int64(limit))
        binds.append(skipping.map(\.rawValue))
        let query = PostgresQuery(unsafeSQL: Self.claim, binds: binds)
        let logger = logger
        // One transaction: the leases and the dead marks of unreadable rows commit together, or neither does
        // (then the leases were never taken and nothing is lost).
        return try call("claim due tasks") { client in
            try await client.withTransaction(logger: logger) { connection in
                var result = ClaimResult()
                for try await row in try await connection.query(query, logger: logger) {
                    let columns = row.makeRandomAccess()
                    let orderID = try columns[8].decode(String.self)
                    let kindText = try columns[9].decode(String.self)
                    let reason: String
                    if let kind = TaskKind(rawValue: kindText), kind.isDurable {
                        if columns[0].bytes == nil {
                            reason = UnreadableTask.orderMissing
                        } else {
                            do {
                                let order = try Self.decodeOrder(row)
                                result.tasks.append(ClaimedTask(
                                    key: TaskKey(orderID: orderID, kind: kind), owner: owner,
                                    attempts: Int(try columns[10].decode(Int32.self)),
                                    ageFromMillis: try columns[11].decode(Int64.self), order: order))
                                continue
                            } catch {
                                reason = UnreadableTask.undecodable(PostgresCall.storeError(error, "read a task's order"))
                            }
                        }
                    } else {
                        reason = UnreadableTask.unknownKind(kindText)
                    }
                    result.unreadable.append(UnreadableTask(orderID: orderID, kind: kindText, reason: reason))
                }
                for task in result.unreadable {
                    var binds = PostgresBindings(capacity: 4)
                    binds.append(task.orderID)
                    binds.append(task.kind)
                    binds.append(nowMillis)
                    binds.append(task.reason)
                    try await connection.query(
                        PostgresQuery(unsafeSQL: OutboxRows.postgres(OutboxRows.unreadable), binds: binds), logger: logger)
                }
                return result
            }
        }
    }

    package func record(_ change: OutboxChange) {
        changes.enqueue(change)
    }

    package func tasks(in state: TaskRecord.State?, limit: Int) throws(StoreError) -> [TaskRecord] {
        // One query and one decoder for both listings (an operator's listing, not a hot path).
        try tasks(in: state, kind: nil, limit: limit)
    }

    package func retryDead(_ key: TaskKey, nowMillis: Int64) throws(StoreError) -> Bool {
        var binds = PostgresBindings(capacity: 3)
        binds.append(key.orderID)
        binds.append(key.kind.rawValue)
        binds.append(nowMillis)
        let query = PostgresQuery(unsafeSQL: OutboxRows.postgres(OutboxRows.retryDead) + " RETURNING 1", binds: binds)
        return try call("retry a dead task") { client in
            try await client.query(query).decode(Int32.self).first(where: { _ in true }) != nil
        }
    }

    package func counts(includingDone: Bool) throws(StoreError) -> OutboxCounts {
        try call("count tasks") { client in
            var result = OutboxCounts()
            for try await (kind, count, oldest) in try await client.query(
                PostgresQuery(unsafeSQL: OutboxRows.countPending)).decode((String, Int64, Int64?).self)
            {
                result.pending += Int(count)
                result.pendingByKind[kind] = Int(count)
                if let oldest { result.oldestPendingMillis = min(result.oldestPendingMillis ?? .max, oldest) }
            }
            for try await count in try await client.query(PostgresQuery(unsafeSQL: OutboxRows.countDead)).decode(Int64.self) {
                result.dead = Int(count)
            }
            if includingDone {
                for try await count in try await client.query(PostgresQuery(unsafeSQL: OutboxRows.countDone)).decode(Int64.self) {
                    result.done = Int(count)
                }
            }
            return result
        }
    }
}

// MARK: - orderd tasks

extension PostgresOrderStore: OutboxAdministration {
    package func tasks(in state: TaskRecord.State?, kind: String?, limit: Int) throws(StoreError) -> [TaskRecord] {
        var binds = PostgresBindings(capacity: 3)
        binds.append(Int64(limit))
        binds.append(state?.rawValue)
        binds.append(kind)
        let query = PostgresQuery(unsafeSQL: OutboxRows.postgres(OutboxRows.listSelected), binds: binds)
        return try call("list tasks") { client in
            var records: [TaskRecord] = []
            for try await (orderID, kindText, stateText, attempts, created, available, owner, until, finished, error) in
                try await client.query(query).decode(
                    (String, String, String, Int32, Int64, Int64, String?, Int64?, Int64?, String?).self)
            {
                guard let state = TaskRecord.State(rawValue: stateText) else {
                    throw StoreError.corrupt("task \(orderID):\(kindText) has an unknown state")
                }
                records.append(TaskRecord(
                    orderID: orderID, kind: kindText, state: state, attempts: Int(attempts),
                    createdAtMillis: created, availableAtMillis: available, leaseOwner: owner, leaseUntilMillis: until,
                    finishedAtMillis: finished, lastError: error))
            }
            return records
        }
    }

    package func retryDead(_ selection: DeadTaskSelection, nowMillis: Int64, dryRun: Bool) throws(StoreError) -> Int {
        var binds = PostgresBindings(capacity: 5)
        binds.append(nowMillis)
        binds.append(selection.kind)
        binds.append(selection.diedSinceMillis)
        binds.append(Int64(max(1, selection.limit)))
        binds.append(Int64(selection.includeThrottled ? 1 : 0))
        if dryRun {
            // $1 is not in the count: PostgreSQL wants every parameter used, so it is compared with itself.
            let query = PostgresQuery(
                unsafeSQL: OutboxRows.postgres(OutboxRows.countDeadSelection) + " WHERE CAST($1 AS BIGINT) = CAST($1 AS BIGINT)",
                binds: binds)
            return try call("count dead tasks") { client in
                try await client.query(query).decode(Int64.self).reduce(0) { _, count in Int(count) }
            }
        }
        let query = PostgresQuery(unsafeSQL: OutboxRows.postgres(OutboxRows.retryDeadBatch) + " RETURNING 1", binds: binds)
        return try call("retry dead tasks") { client in
            try await client.query(query).decode(Int32.self).reduce(0) { count, _ in count + 1 }
        }
    }

    package func orders(createdSinceMillis: Int64?, afterID: String?, limit: Int) throws(StoreError) -> [OrderRecord] {
        var binds = PostgresBindings(capacity: 3)
        binds.append(createdSinceMillis)
        binds.append(afterID)
        binds.append(Int64(max(1, limit)))
        let query = PostgresQuery(unsafeSQL: OutboxRows.postgres(OutboxRows.listOrders), binds: binds)
        return try call("list orders") { client in
            var records: [OrderRecord] = []
            for try await row in try await client.query(query) { records.append(try Self.decodeOrderRecord(row)) }
            return records
        }
    }

    package func orderRecord(id: String) throws(StoreError) -> OrderRecord? {
        var binds = PostgresBindings(capacity: 1)
        binds.append(id)
        let query = PostgresQuery(unsafeSQL: OutboxRows.postgres(OutboxRows.showOrder), binds: binds)
        return try call("show an order") { client in
            for try await row in try await client.query(query) { return try Self.decodeOrderRecord(row) }
            return nil
        }
    }

    /// A row of `orderColumns` followed by `created_by`.
    static func decodeOrderRecord(_ row: PostgresRow) throws -> OrderRecord {
        let (id, createdAt, phone, email, currency, total, note, items, createdBy) = try row.decode(
            (String, Int64, String, String?, String, Int64, String?, String, String?).self)
        let lines = try Array(items.utf8).withUnsafeBytes { (json) throws(StoreError) -> [OrderItem] in
            try OrderRows.decodeItems(json, orderID: id)
        }
        return OrderRecord(
            order: StoredOrder(
                id: id, createdAtMillis: createdAt,
                order: NewOrder(
                    customer: Customer(phone: phone, email: email), currency: currency, items: lines, note: note,
                    totalCents: total, createdBy: createdBy)),
            createdBy: createdBy)
    }

    package func purgeDead(finishedBeforeMillis: Int64, batchSize: Int) throws(StoreError) -> Int {
        var deleted = 0
        while true {
            // One statement per batch, each its own transaction: no long lock on the table.
            var binds = PostgresBindings(capacity: 2)
            binds.append(finishedBeforeMillis)
            binds.append(Int64(max(1, batchSize)))
            let query = PostgresQuery(unsafeSQL: PostgresRetention.purgeDead, binds: binds)
            let batch = try call("purge dead tasks") { client in
                try await client.query(query).decode(Int32.self).reduce(0) { count, _ in count + 1 }
            }
            deleted += batch
            if batch < max(1, batchSize) { return deleted }
        }
    }
}
