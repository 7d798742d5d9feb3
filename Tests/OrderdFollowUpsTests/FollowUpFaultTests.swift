import Foundation
import Logging
import Synchronization
import Testing
import TestSupport
import OrderdConfig
import OrderdOrders
// @testable: these tests read internals: OrderdStore (SQLiteConnection); OrderdFollowUps (SQLiteConnection).
@testable import OrderdStore
@testable import OrderdFollowUps

/// The follow-up core (dispatcher, settler, lease book) on the real stores, with faults put into the outbox
/// tables straight through SQL: unreadable rows, kinds without a handler, two instances with different handlers.
/// Each test waits for outcomes with a generous bound and asserts what became of every task, never how fast.
extension PostgresBackedSuites {
@Suite(.timeLimit(.minutes(10)))
struct FollowUpFaultTests {
    enum Driver: String, CaseIterable, Sendable {
        case sqlite, postgres
        static var available: [Driver] { TestPostgres.enabled ? allCases : [.sqlite] }
    }

    /// Does every task at once and remembers each task id it got, with the number of times.
    final class RecordingHandler: FollowUpHandler {
        let performed = Mutex<[String: Int]>([:])
        func perform(order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant) async throws {
            performed.withLock { $0[taskID, default: 0] += 1 }
        }
        var ids: [String: Int] { performed.withLock { $0 } }
    }

    /// Keeps every log line's level, message and metadata.
    final class LogLines: Sendable {
        typealias Line = (level: Logger.Level, message: String, metadata: [String: String])
        private let lines = Mutex<[Line]>([])

        struct Handler: LogHandler {
            let sink: LogLines
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(event: LogEvent) {
                let flat = (event.metadata ?? [:]).mapValues { "\($0)" }
                sink.lines.withLock { $0.append((event.level, event.message.description, flat)) }
            }
        }

        var logger: Logger { Logger(label: "follow-up-fault-tests") { [self] _ in Handler(sink: self) } }
        var all: [Line] { lines.withLock { $0 } }
    }

    /// A store of `driver` on a new database, with the configuration it was opened with (for the second
    /// instance and raw SQL), and a function that runs raw SQL on it.
    struct Setup {
        var configuration: OrderdConfiguration
        var store: any OrderStore & OutboxStore
        var sql: (String) throws -> Void
        var close: () -> Void
    }

    static func open(_ driver: Driver, directory: String, insertion: OutboxInsertion, configuration: OrderdConfiguration? = nil)
        throws -> Setup
    {
        switch driver {
        case .sqlite:
            let configuration = configuration ?? .store(in: directory)
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration), outbox: insertion)
            return Setup(configuration: configuration, store: store, sql: { sql in
                let connection = try SQLiteConnection(path: configuration.store.path, readOnly: false)
                defer { connection.close() }
                try connection.execute("PRAGMA busy_timeout = 10000")
                try connection.execute(sql)
            }, close: { store.close() })
        case .postgres:
            let configuration = try configuration ?? TestPostgres.freshDatabase()
            let store = try PostgresOrderStore(settings: StoreSettings(configuration), outbox: insertion)
            return Setup(configuration: configuration, store: store, sql: { sql in
                _ = try TestPostgres.psql(sql, url: configuration.store.url)
            }, close: { store.close() })
        }
    }

    static func configure(_ configuration: OrderdConfiguration, webhook: Bool) -> OrderdConfiguration {
        var configuration = configuration
        configuration.executor.pollInterval = .milliseconds(50)
        configuration.executor.leaseTimeout = .seconds(3)
        configuration.executor.retryBackoff = .milliseconds(50)
        configuration.stats.enabled = false
        configuration.webhook.url = webhook ? "http://127.0.0.1:9/hook" : ""  // the handler below never calls it
        return configuration
    }

    /// `async`: FollowUps runs every task as a Swift Task on the cooperative pool (through its executor), so a
    /// test that waited for them on a pool thread could starve them, or another suite's.
    static func eventually(_ timeout: Duration = .seconds(60), _ condition: () throws -> Bool) async rethrows -> Bool {
        try await pollUntil(timeout, condition)
    }

    /// `stop` blocks until the executor's Tasks have ended: on a thread of its own, not on the pool they need.
    static func stop(_ followUps: FollowUps) async throws {
        _ = try await onOwnThread { followUps.stop(drainDeadline: .now + .seconds(5)) }
    }

    // MARK: Poison rows

    @Test(arguments: Driver.available)
    func unreadableRowsAreDeadWithTheirReasonAndNeverBlockTheRest(_ driver: Driver) async throws {
        try await withStoreDirectory { directory in
            // Tasks written with an already-expired lease: the dispatcher claims all of them.
            let insertion = OutboxInsertion(kinds: [.sms, .audit], owner: "creator", lease: .zero)
            let setup = try Self.open(driver, directory: directory, insertion: insertion)
            defer { setup.close() }
            let orders = try (1...250).map { try setup.store.create(.sample($0), idempotency: nil, deadline: .inSeconds(30)).order }
            // Due before every real task: a kind no orderd knows, and an sms task whose order is missing.
            if driver == .postgres { try setup.sql("ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_order_id_fkey") }
            try setup.sql("""
                INSERT INTO tasks (order_id, kind, state, created_at_ms, age_from_ms, available_at_ms)
                VALUES ('\(orders[0].id)', 'bogus', 'pending', 1, 1, 1), ('no-such-order', 'sms', 'pending', 1, 1, 1)
                """)
            let handler = RecordingHandler()
            let log = LogLines()
            let configuration = Self.configure(setup.configuration, webhook: false)
            let followUps = FollowUps(
                configuration: configuration, owner: "worker", outbox: setup.store, handlers: [.sms: handler, .audit: handler],
                logger: log.logger)
            try followUps.start()
            let allDone = await Self.eventually { handler.ids.count == 500 }
            try await Self.stop(followUps)
            #expect(allDone, "\(handler.ids.count) of 500 tasks were performed")
            let expected = Set(orders.flatMap { ["\($0.id):sms", "\($0.id):audit"] })
            #expect(Set(handler.ids.keys) == expected)
            #expect(try await Self.eventually { try setup.store.counts().dead == 2 })
            let dead = try setup.store.tasks(in: .dead, limit: 10)
            #expect(dead.contains { $0.id == "no-such-order:sms" && $0.lastError == "unreadable: its order is missing" })
            #expect(dead.contains { $0.id == "\(orders[0].id):bogus" && ($0.lastError ?? "").contains("kind 'bogus' is unknown") })
            let deadLines = log.all.filter { $0.metadata["result"] == "dead" }
            #expect(deadLines.count == 2, "one line per unreadable row: \(deadLines.map(\.metadata))")
            #expect(deadLines.contains { $0.metadata["kind"] == "bogus" && ($0.metadata["error"] ?? "").contains("kind 'bogus' is unknown") })
            #expect(deadLines.contains { $0.metadata["task_id"] == "no-such-order:sms" })
            let counted = followUps.statistics.byKind
            #expect(counted[.init(kind: "unknown", result: .dead(.unreadable))] == 1)
            #expect(counted[.init(kind: "sms", result: .dead(.unreadable))] == 1)
            #expect(counted[.init(kind: "sms", result: .done)] == 250)
        }
    }

    // MARK: Kinds without a handler

    @Test(arguments: Driver.available)
    func aKindWithoutAHandlerIsLeftAloneAndExpiresOnceAHandlerSeesItPastMaxAge(_ driver: Driver) async throws {
        try await withStoreDirectory { directory in
            let insertion = OutboxInsertion(kinds: [.sms, .webhook], owner: "creator", lease: .zero)
            let setup = try Self.open(driver, directory: directory, insertion: insertion)
            defer { setup.close() }
            let orders = try (1...20).map { try setup.store.create(.sample($0), idempotency: nil, deadline: .inSeconds(30)).order }
            let handler = RecordingHandler()
            var configuration = Self.configure(setup.configuration, webhook: false)
            let withoutWebhook = FollowUps(
                configuration: configuration, owner: "no-webhook", outbox: setup.store, handlers: [.sms: handler],
                logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
            try withoutWebhook.start()
            #expect(await Self.eventually { handler.ids.count == 20 })
            #expect(try await Self.eventually { try setup.store.counts().pendingByKind == ["webhook": 20] })
            // Many polls later: the webhook rows were never leased, attempted or released by this process.
            try await Task.sleep(for: .milliseconds(500))
            let webhookRows = try setup.store.tasks(in: .pending, limit: 100)
            try await Self.stop(withoutWebhook)
            #expect(webhookRows.count == 20 && webhookRows.allSatisfy { $0.kind == "webhook" })
            #expect(webhookRows.allSatisfy { $0.attempts == 0 && ($0.leaseOwner ?? "creator") == "creator" })
            #expect(withoutWebhook.statistics.byKind.keys.allSatisfy { $0.kind == "sms" })
            #expect(withoutWebhook.snapshot(withOutbox: true).unhandledKinds.contains(.webhook))

            // A process with the handler but a max_age the tasks are already past: dead, expired, never attempted.
            try await Task.sleep(for: .milliseconds(1_100))
            configuration = Self.configure(setup.configuration, webhook: true)
            configuration.webhook.maxAge = .seconds(1)
            let webhookHandler = RecordingHandler()
            let withWebhook = FollowUps(
                configuration: configuration, owner: "webhook", outbox: setup.store,
                handlers: [.sms: handler, .webhook: webhookHandler],
                logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
            try withWebhook.start()
            let expired = await Self.eventually { (try? setup.store.counts().dead) == 20 }
            try await Self.stop(withWebhook)
            #expect(expired)
            #expect(webhookHandler.ids.isEmpty)
            let dead = try setup.store.tasks(in: .dead, limit: 100)
            #expect(Set(dead.compactMap(\.key)) == Set(orders.map { TaskKey(orderID: $0.id, kind: .webhook) }))
            #expect(dead.allSatisfy { ($0.lastError ?? "").hasPrefix("expired: older than max_age 1s") })
            #expect(withWebhook.statistics.byKind[.init(kind: "webhook", result: .dead(.expired))] == 20)
        }
    }

    // MARK: Mixed fleet

    @Test(.enabled(if: TestPostgres.enabled, TestPostgres.comment))
    func inAMixedFleetOnlyTheInstanceWithTheHandlerClaimsItsKind() async throws {
        let insertion = OutboxInsertion(kinds: [.sms, .webhook, .audit], owner: "creator", lease: .zero)
        let a = try Self.open(.postgres, directory: "", insertion: insertion)
        defer { a.close() }
        let b = try Self.open(.postgres, directory: "", insertion: insertion, configuration: a.configuration)
        defer { b.close() }
        let silent = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })
        let handlerA = RecordingHandler(), handlerB = RecordingHandler()
        // B first, alone, for a while: it must leave every webhook task alone.
        let instanceB = FollowUps(
            configuration: Self.configure(b.configuration, webhook: false), owner: "b", outbox: b.store,
            handlers: [.sms: handlerB, .audit: handlerB], logger: silent)
        try instanceB.start()
        let orders = try (1...100).map { try a.store.create(.sample($0), idempotency: nil, deadline: .inSeconds(30)).order }
        #expect(await Self.eventually { handlerB.ids.count == 200 })
        #expect(try await Self.eventually { try a.store.counts().pendingByKind == ["webhook": 100] })
        try await Task.sleep(for: .milliseconds(500))  // ten polls of B's
        let untouched = try a.store.tasks(in: .pending, limit: 1000)
        #expect(untouched.count == 100 && untouched.allSatisfy { $0.kind == "webhook" && $0.leaseOwner == "creator" && $0.attempts == 0 })
        let instanceA = FollowUps(
            configuration: Self.configure(a.configuration, webhook: true), owner: "a", outbox: a.store,
            handlers: [.sms: handlerA, .audit: handlerA, .webhook: handlerA], logger: silent)
        try instanceA.start()
        let done = await Self.eventually { handlerA.ids.count == 100 }
        try await Self.stop(instanceA)
        try await Self.stop(instanceB)
        #expect(done)
        #expect(Set(handlerA.ids.keys) == Set(orders.map { "\($0.id):webhook" }))
        #expect(!handlerB.ids.keys.contains { $0.hasSuffix(":webhook") })
        #expect(handlerB.ids.values.allSatisfy { $0 == 1 } && handlerA.ids.values.allSatisfy { $0 == 1 })
    }
}
}
