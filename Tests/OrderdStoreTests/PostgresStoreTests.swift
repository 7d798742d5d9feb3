import Foundation
import Synchronization
import Testing
import TestSupport
import OrderdSupport
import OrderdConfig
import OrderdOrders
// @testable: these tests read internals: OrderdStore (PostgresSchema, lookupReserveMillis).
@testable import OrderdStore

/// The PostgreSQL store against a real server (scripts/with-postgres.sh): orders and idempotency (the outbox
/// contract is in OutboxStoreTests, run on both stores), and what only a shared database has: duplicates from
/// several instances, migrations under concurrent starts, `FOR UPDATE SKIP LOCKED` claims, connection failures.
extension PostgresBackedSuites {
@Suite(.enabled(if: TestPostgres.enabled, TestPostgres.comment), .serialized)
struct PostgresStoreTests {
    static let body = Array(#"{"customer":{"phone":"+8613800138000"},"currency":"CNY","items":[]}"#.utf8)

    static func open(
        _ configuration: OrderdConfiguration, owner: String = "a", lease: Duration = .seconds(60)
    ) throws -> PostgresOrderStore {
        try PostgresOrderStore(
            settings: StoreSettings(configuration),
            outbox: OutboxInsertion(kinds: [.sms, .audit, .stats], owner: owner, lease: lease))
    }

    static func create(_ store: PostgresOrderStore, _ number: Int) throws -> StoredOrder {
        try store.create(.sample(number), idempotency: nil, deadline: .inSeconds(10)).order
    }

    // MARK: Orders

    @Test func ordersRoundTripWithTheirOutboxRowsInTheSameStatement() throws {
        let configuration = try TestPostgres.freshDatabase()
        let store = try Self.open(configuration)
        defer { store.close() }
        let before = WallClock.unixMillis()
        let created = try store.create(.sample(3), idempotency: nil, deadline: .inSeconds(10))
        guard case .created(let order) = created else {
            Issue.record("expected .created, got \(created)")
            return
        }
        #expect(UUIDv7.isCanonical(order.id))
        #expect(order.createdAtMillis >= before && order.order == .sample(3))
        #expect(try store.order(id: order.id) == order)
        #expect(try store.order(id: "0190f0f0-0000-7000-8000-000000000000") == nil)
        // Its outbox rows came in the same statement (OutboxStoreTests checks them on both stores).
        #expect(try TestPostgres.psql("SELECT count(*) FROM tasks WHERE order_id = '\(order.id)'", url: configuration.store.url) == "2")
    }

    @Test func idempotencyKeysReplayConflictAndExpire() async throws {
        var configuration = try TestPostgres.freshDatabase()
        configuration.orders.idempotencyTTL = .milliseconds(300)
        let store = try Self.open(configuration)
        defer { store.close() }
        let request = IdempotencyRequest(key: "key-1", body: Self.body)
        let first = try store.create(.sample(1), idempotency: request, deadline: .inSeconds(10))
        guard case .created(let stored) = first else {
            Issue.record("expected .created, got \(first)")
            return
        }
        #expect(try store.create(.sample(2), idempotency: request, deadline: .inSeconds(10)) == .replayed(stored))
        for other in [Self.body + [0x20], Array(Self.body.dropLast()), []] {
            let error = #expect(throws: StoreError.self) {
                try store.create(.sample(1), idempotency: IdempotencyRequest(key: "key-1", body: other), deadline: .inSeconds(10))
            }
            #expect(error?.code == .idempotencyConflict)
        }
        #expect(try TestPostgres.psql("SELECT count(*) FROM orders", url: configuration.store.url) == "1")
        // Past the TTL the key is free again: a new order, and the old one gives the key up.
        try await Task.sleep(for: .milliseconds(400))
        let again = try store.create(.sample(2), idempotency: IdempotencyRequest(key: "key-1", body: [1]), deadline: .inSeconds(10))
        guard case .created(let newer) = again else {
            Issue.record("expected .created after the key expired, got \(again)")
            return
        }
        #expect(newer.id != stored.id)
        #expect(try TestPostgres.psql(
            "SELECT idempotency_key IS NULL AND request_body IS NULL FROM orders WHERE id = '\(stored.id)'",
            url: configuration.store.url) == "t")
    }

    @Test func concurrentDuplicatesFromSeveralInstancesCreateExactlyOneOrder() async throws {
        let configuration = try TestPostgres.freshDatabase()
        let stores = try (0..<3).map { _ in try Self.open(configuration) }
        defer { stores.forEach { $0.close() } }
        let request = IdempotencyRequest(key: "one-key", body: Self.body)
        let results = Mutex<[Result<CreateOutcome, StoreError>]>([])
        let threads = (0..<12).map { index in
            Thread {
                let result = Result { () throws(StoreError) -> CreateOutcome in
                    try stores[index % 3].create(.sample(1), idempotency: request, deadline: .inSeconds(20))
                }
                results.withLock { $0.append(result) }
            }
        }
        threads.forEach { $0.start() }
        _ = await pollUntil(.seconds(30), every: .milliseconds(10)) { results.withLock { $0.count } >= 12 }
        let outcomes = results.withLock { $0 }
        #expect(outcomes.count == 12)
        let ids = Set(outcomes.compactMap { try? $0.get().order.id })
        #expect(ids.count == 1, "every duplicate answers the one order: \(ids)")
        #expect(outcomes.filter { if case .success(.created) = $0 { true } else { false } }.count == 1)
        #expect(try TestPostgres.psql("SELECT count(*) FROM orders", url: configuration.store.url) == "1")
        #expect(try TestPostgres.psql("SELECT count(*) FROM tasks", url: configuration.store.url) == "2")
    }

    // MARK: The shared outbox

    @Test func instancesClaimDisjointTasksWithSkipLocked() async throws {
        let configuration = try TestPostgres.freshDatabase()
        let creator = try Self.open(configuration, owner: "dead", lease: .milliseconds(1))
        defer { creator.close() }
        let orders = try (1...60).map { try Self.create(creator, $0) }
        try await Task.sleep(for: .milliseconds(10))  // the creator's leases ran out: it "died"
        let claimers = try ["b", "c", "d"].map { try Self.open(configuration, owner: $0) }
        defer { claimers.forEach { $0.close() } }
        let claimed = Mutex<[String: [TaskKey]]>([:])
        let done = Mutex(0)
        for (store, owner) in zip(claimers, ["b", "c", "d"]) {
            Thread {
                let now = WallClock.unixMillis()
                while let batch = try? store.claimDue(owner: owner, limit: 7, nowMillis: now, leaseUntilMillis: now + 60_000),
                    !batch.isEmpty
                {
                    #expect(batch.allSatisfy { task in orders.contains { $0.id == task.key.orderID && $0 == task.order } })
                    claimed.withLock { $0[owner, default: []] += batch.map(\.key) }
                }
                done.withLock { $0 += 1 }
            }.start()
        }
        _ = await pollUntil(.seconds(30), every: .milliseconds(10)) { done.withLock { $0 } >= 3 }
        let all = claimed.withLock { $0.values.flatMap { $0 } }
        #expect(all.count == 120, "every task claimed once: \(all.count)")
        #expect(Set(all).count == all.count, "no task claimed by two instances")
        #expect(try TestPostgres.psql(
            "SELECT count(*) FROM tasks WHERE lease_owner NOT IN ('b', 'c', 'd')", url: configuration.store.url) == "0")
    }

    // MARK: Migrations and connections

    @Test func instancesStartingAtOnceMigrateExactlyOnce() async throws {
        let configuration = try TestPostgres.freshDatabase()
        let opened = Mutex<[Result<PostgresOrderStore, StoreError>]>([])
        for _ in 0..<4 {
            Thread {
                let result = Result { () throws(StoreError) -> PostgresOrderStore in try PostgresOrderStore(settings: StoreSettings(configuration)) }
                opened.withLock { $0.append(result) }
            }.start()
        }
        _ = await pollUntil(.seconds(60), every: .milliseconds(10)) { opened.withLock { $0.count } >= 4 }
        let results = opened.withLock { $0 }
        defer { results.forEach { try? $0.get().close() } }
        #expect(results.count == 4 && results.allSatisfy { (try? $0.get()) != nil }, "\(results)")
        #expect(try TestPostgres.psql("SELECT count(*), count(DISTINCT applied_by) FROM orderd_schema", url: configuration.store.url)
            == "\(PostgresSchema.migrations.count)|1")
    }

    @Test func aWrongPasswordStopsTheStartWithPostgresReasonAndNeverThePassword() throws {
        var configuration = try TestPostgres.freshDatabase()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("orderd-pg-\(UUID().uuidString)").path
        try "not-the-Password-42\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        configuration.store.passwordFile = file
        let error = #expect(throws: StoreError.self) { try PostgresOrderStore(settings: StoreSettings(configuration)) }
        #expect(error?.code == .unavailable)
        let text = error.map { String(reflecting: $0) } ?? ""
        #expect(text.contains("28P01"), "SQLSTATE invalid_password in \(text)")
        #expect(!text.contains("not-the-Password-42"))

        configuration.store.passwordFile = "/nonexistent/orderd-password"
        let missing = #expect(throws: StoreError.self) { try PostgresOrderStore(settings: StoreSettings(configuration)) }
        #expect(missing.map { String(reflecting: $0) }?.contains("store.password_file = /nonexistent/orderd-password") == true)
    }

    @Test func anUnreachableServerFailsTheStartWithinTheConnectTimeout() throws {
        var configuration = OrderdConfiguration()
        configuration.store.driver = .postgres
        let port = try closedPort()
        configuration.store.url = "postgres://orderd@127.0.0.1:\(port)/orderd?sslmode=disable"
        configuration.store.connectTimeout = .seconds(2)
        let started = ContinuousClock.now
        let error = #expect(throws: StoreError.self) { try PostgresOrderStore(settings: StoreSettings(configuration)) }
        #expect(error?.code == .unavailable)
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(error.map { String(reflecting: $0) }?.contains("127.0.0.1:\(port)") == true)
    }

    // MARK: Outcomes that are known

    /// An insert still in flight when its request must be answered: here it waits behind another transaction's
    /// uncommitted row with the same idempotency key. The request thread stops waiting, ends the server process
    /// that has the statement and looks the order up by its id: absent, so "nothing stored" (`unavailable`),
    /// and it stays absent once the other transaction is gone (the statement really ended with its process).
    @Test func anInsertStillInFlightAtTheDeadlineIsEndedAndLookedUp() async throws {
        let configuration = try TestPostgres.freshDatabase()
        let store = try Self.open(configuration)
        defer { store.close() }
        // Time for the lookup on any machine; what is asserted is the outcome, not how soon it came.
        store.lookupReserveMillis.store(20_000, ordering: .relaxed)
        _ = try Self.create(store, 1)  // a pooled connection exists for the lookup

        let blocker = Process()
        blocker.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["ORDERD_TEST_PG_PSQL"] ?? "/usr/bin/psql")
        blocker.arguments = [configuration.store.url.replacingOccurrences(of: "?sslmode=disable", with: ""), "-c", """
            BEGIN; INSERT INTO orders (id, created_at_ms, phone, currency, total_cents, items, idempotency_key)
            VALUES ('0190f0f0-0000-7000-8000-000000000001', 0, '+8613800138000', 'CNY', 0, '[]', 'held');
            SELECT pg_sleep(120); ROLLBACK;
            """]
        var environment = ProcessInfo.processInfo.environment
        environment["PGPASSWORD"] = try String(contentsOfFile: TestPostgres.passwordFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        blocker.environment = environment
        blocker.standardOutput = FileHandle.nullDevice
        blocker.standardError = FileHandle.nullDevice
        try blocker.run()
        // In pg_sleep: the row is inserted and its key held.
        let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()"
        defer {
            _ = try? TestPostgres.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
                url: configuration.store.url)
            blocker.waitUntilExit()
        }
        let ready = ContinuousClock.now + .seconds(30)
        while try TestPostgres.psql(sleeping, url: configuration.store.url) != "1" && ContinuousClock.now < ready {
            try await Task.sleep(for: .milliseconds(50))
        }
        try #require(try TestPostgres.psql(sleeping, url: configuration.store.url) == "1")

        // Called from a thread of our own, as orderd's request threads do: blocking this test's thread of the
        // cooperative pool would leave postgres-nio none when other suites hold the other one.
        let deadline = ContinuousClock.now + .seconds(10)
        let error = await withCheckedContinuation { (continuation: CheckedContinuation<StoreError?, Never>) in
            Thread {
                do throws(StoreError) {
                    _ = try store.create(
                        .sample(2), idempotency: IdempotencyRequest(key: "held", body: Self.body), deadline: deadline, answerBy: deadline)
                    continuation.resume(returning: nil)
                } catch {
                    continuation.resume(returning: error)
                }
            }.start()
        }
        let text = error.map { String(reflecting: $0) } ?? "no error"
        // Both answers keep the contract. `outcomeUnknown` is what a lookup that could not run in time gives: seen
        // when this process's other suites held every thread of Swift's cooperative pool, which postgres-nio's
        // connect then waited for (orderd's request threads are its own; the integration tests run it so).
        #expect(error?.code == .unavailable || error?.code == .outcomeUnknown, "\(text)")
        let settled = error?.code == .unavailable
        if settled {
            #expect(text.contains("is not stored"))
            // The insert's process is gone: nothing waits for the key any more.
            #expect(try TestPostgres.psql("""
                SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE NOT l.granted AND a.datname = current_database()
                """, url: configuration.store.url) == "0")
        }
        _ = try TestPostgres.psql(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()",
            url: configuration.store.url)
        if settled {
            // Not stored, and it never will be: its statement ended with its process.
            #expect(try TestPostgres.psql("SELECT count(*) FROM orders WHERE idempotency_key = 'held'", url: configuration.store.url) == "0")
        }

        // The same request again settles it either way: exactly one order with the key.
        let retried = try store.create(.sample(2), idempotency: IdempotencyRequest(key: "held", body: Self.body), deadline: .inSeconds(10))
        if settled, case .replayed = retried { Issue.record("not stored, yet replayed: \(retried)") }
        #expect(try TestPostgres.psql("SELECT count(*) FROM orders WHERE idempotency_key = 'held'", url: configuration.store.url) == "1")
    }

    /// A loopback port nothing listens on.
    private func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

}

/// `store.url`: what it accepts, and that it never takes a password.
@Suite struct PostgresURLTests {
    @Test func parsesLibpqStyleURLs() throws {
        let url = try #require(PostgresURL("postgres://orderd@db.example.com:6432/shop?sslmode=verify-full&application_name=orderd-1"))
        #expect(url.user == "orderd" && url.host == "db.example.com" && url.port == 6432 && url.database == "shop")
        #expect(url.sslMode == .verifyFull && url.applicationName == "orderd-1")
        let plain = try #require(PostgresURL("postgresql://orderd@127.0.0.1/orderd"))
        #expect(plain.port == 5432 && plain.sslMode == .prefer)
        let v6 = try #require(PostgresURL("postgres://u@[::1]:5433/d"))
        #expect(v6.host == "::1" && v6.port == 5433)
        let socket = try #require(PostgresURL("postgres://orderd@/orderd?host=/run/postgresql"))
        #expect(socket.socketPath == "/run/postgresql/.s.PGSQL.5432" && socket.host == nil)
        #expect(PostgresURL("postgres://orderd@localhost")?.database == "orderd")
    }

    @Test(arguments: [
        "postgres://orderd:secret@127.0.0.1/orderd",  // a password
        "postgres://orderd@127.0.0.1/orderd?password=secret",
        "postgres://127.0.0.1/orderd",  // no user
        "postgres://orderd@127.0.0.1:99999/orderd",
        "postgres://orderd@127.0.0.1/orderd?sslmode=sometimes",
        "postgres://orderd@127.0.0.1/orderd?unknown=1",
        "mysql://orderd@127.0.0.1/orderd",
        "postgres://orderd@/orderd",  // no host at all
        "postgres://orderd@127.0.0.1/a b",
    ])
    func refusesWhatItCannotHonour(_ text: String) {
        #expect(PostgresURL(text) == nil)
    }

    @Test func sslrootcertMakesVerifyFullTheDefault() throws {
        let named = try #require(PostgresURL("postgres://orderd@db.example/shop?sslrootcert=/etc/orderd/pg-ca.pem"))
        #expect(named.sslMode == .verifyFull && named.sslModeIsDefault && named.rootCertificate == "/etc/orderd/pg-ca.pem")
        let system = try #require(PostgresURL("postgres://orderd@db.example/shop?sslrootcert=system"))
        #expect(system.sslMode == .verifyFull && system.rootCertificate == nil)
        let explicit = try #require(PostgresURL("postgres://orderd@db.example/shop?sslmode=verify-full&sslrootcert=/ca.pem"))
        #expect(explicit.sslMode == .verifyFull && !explicit.sslModeIsDefault)
        let plain = try #require(PostgresURL("postgres://orderd@db.example/shop"))
        #expect(plain.sslMode == .prefer && plain.sslModeIsDefault && plain.rootCertificate == nil)
        #expect(PostgresURL("postgres://orderd@db.example/shop?sslmode=require")?.sslMode == .require)
        // A CA with a mode that would not use it, or a relative path: refused, with the reason.
        for refused in ["postgres://o@h/d?sslmode=require&sslrootcert=/ca.pem", "postgres://o@h/d?sslrootcert=ca.pem"] {
            #expect(PostgresURL(refused) == nil)
            #expect(PostgresURL.refusalReason(refused)?.contains("sslrootcert") == true, "\(refused)")
        }
    }

    @Test(arguments: [
        ("postgres://o@127.0.0.1/d", true), ("postgres://o@127.1.2.3/d", true), ("postgres://o@localhost/d", true),
        ("postgres://o@[::1]/d", true), ("postgres://o@/d?host=/run/postgresql", true),
        ("postgres://o@db.example/d", false), ("postgres://o@10.0.0.5/d", false), ("postgres://o@[2001:db8::1]/d", false),
    ])
    func loopback(_ text: String, _ expected: Bool) throws {
        #expect(try #require(PostgresURL(text)).isLoopback == expected)
    }

    @Test func aPasswordInTheURLIsRefusedPointingToThePasswordFile() throws {
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(text: "[store]\ndriver = postgres\nurl = postgres://orderd:hunter2@127.0.0.1/orderd\n", file: "/etc/orderd/orderd.ini")
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("store.url") && text.contains("line 3") && text.contains("password_file"))
        #expect(text.contains("a password in the URL is refused") && !text.contains("hunter2"), "\(text)")
        let missing = #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(text: "[store]\ndriver = postgres\n", file: "/etc/orderd/orderd.ini")
        }
        #expect(missing.map { "\($0)" }?.contains("Missing value for 'store.url'") == true)
    }
}
