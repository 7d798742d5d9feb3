import Foundation
import Testing
import TestSupport
import OrderdSupport
import OrderdConfig
import OrderdOrders
// @testable: these tests read internals: OrderdStore (GroupCommitWriter, SQLiteConnection, SQLiteSchema, millis,
//  sqliteStatus, …).
@testable import OrderdStore

/// Opening, schema, pragmas, and round-tripping orders through `SQLiteOrderStore`.
@Suite struct StoreTests {
    @Test func createdOrderReadsBackFieldForField() throws {
        try withStoreDirectory { directory in
            let store = try SQLiteOrderStore(settings: StoreSettings(.store(in: directory)))
            defer { store.close() }
            let orders = [
                NewOrder(
                    customer: Customer(phone: "+8613800138000", email: "zoë@例え.jp"),
                    currency: "CNY",
                    items: [
                        OrderItem(sku: "SKU-1", quantity: 3, unitPriceCents: 1_999),
                        OrderItem(sku: "sku\u{0}nul 🚀", quantity: Int(Int32.max) + 5, unitPriceCents: .max),
                        OrderItem(sku: "", quantity: -1, unitPriceCents: .min),
                    ],
                    note: "line1\nline2\t\"quoted\" 'single' \u{0}end",
                    totalCents: -42
                ),
                // nil stays nil, and there may be no lines at all.
                NewOrder(customer: Customer(phone: "+15550100"), currency: "USD", items: [], note: nil, totalCents: 0),
                // "" stays "", not NULL.
                NewOrder(customer: Customer(phone: "", email: ""), currency: "EUR", items: [], note: "", totalCents: 1),
            ]
            let before = WallClock.unixMillis()
            for order in orders {
                let outcome = try store.create(order, idempotency: nil, deadline: .inSeconds(10))
                guard case .created(let stored) = outcome else {
                    Issue.record("expected .created, got \(outcome)")
                    continue
                }
                #expect(stored.order == order)
                #expect(UUIDv7.isCanonical(stored.id))
                #expect(UUIDv7.millis(of: stored.id) == stored.createdAtMillis)
                #expect(stored.createdAtMillis >= before && stored.createdAtMillis <= WallClock.unixMillis())
                #expect(try store.order(id: stored.id) == stored)
            }
            #expect(try store.order(id: "0190b3d6-0000-7000-8000-000000000000") == nil)
            #expect(try store.order(id: "not an id") == nil)
        }
    }

    @Test(arguments: [OrderdConfiguration.Store.Synchronous.full, .normal])
    func synchronousIsSetOnEveryConnection(_ synchronous: OrderdConfiguration.Store.Synchronous) throws {
        try withStoreDirectory { directory in
            let store = try SQLiteOrderStore(settings: StoreSettings(.store(in: directory, synchronous: synchronous)))
            defer { store.close() }
            let expected: Int64 = synchronous == .full ? 2 : 1
            // Read back from the writer connection when it was configured (it belongs to the writer thread now)…
            #expect(store.writerSettings.synchronous == expected)
            #expect(store.writerSettings.foreignKeys)
            // …and live from a reader connection.
            let (readerSynchronous, readerForeignKeys) = try store.readers.withConnection {
                (connection) throws(StoreError) -> (Int64?, Int64?) in
                (try connection.scalarInt("PRAGMA synchronous"), try connection.scalarInt("PRAGMA foreign_keys"))
            }
            #expect(readerSynchronous == expected)
            #expect(readerForeignKeys == 1)
        }
    }

    @Test func databaseIsInWALMode() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            #expect(store.writerSettings.journalMode == "wal")
            // WAL is a property of the file: a connection of our own sees it too.
            let other = try SQLiteConnection(path: configuration.store.path, readOnly: true)
            defer { other.close() }
            #expect(try other.scalarText("PRAGMA journal_mode") == "wal")
        }
    }

    @Test func checkpointsHappenBesideTheWriter() async throws {
        try await withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            // The writer never checkpoints inside a commit (wal_autocheckpoint = 0)…
            let sizeBefore = try Self.fileSize(configuration.store.path)
            for number in 0..<300 { _ = try store.create(.sample(number), idempotency: nil, deadline: .inSeconds(10)) }
            // …yet the orders reach the database file itself, copied there by the checkpointer thread.
            #expect(await eventually(timeout: .seconds(5)) { ((try? Self.fileSize(configuration.store.path)) ?? 0) > sizeBefore })
        }
    }

    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    @Test func migratesAnEmptyFileAndReopensAnExistingOne() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let path = configuration.store.path
            #expect(FileManager.default.createFile(atPath: path, contents: Data()))

            let first = try SQLiteOrderStore(settings: StoreSettings(configuration))
            let stored = try first.create(.sample(1), idempotency: nil, deadline: .inSeconds(10)).order
            first.close()

            let raw = try SQLiteConnection(path: path, readOnly: true)
            #expect(try raw.scalarInt("PRAGMA user_version") == Int64(SQLiteSchema.migrations.count))
            let schema = try raw.scalarText(
                "SELECT group_concat(type || ' ' || name, ',') FROM (SELECT type, name FROM sqlite_schema ORDER BY name)")
            #expect(schema == "table orders,index orders_by_idempotency_key,table sms_recipients,index sms_recipients_by_last,table tasks,index tasks_dead,index tasks_due")
            raw.close()

            let second = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { second.close() }
            #expect(try second.order(id: stored.id) == stored)
            #expect(try countRows("orders", at: path) == 1)
            let again = try SQLiteConnection(path: path, readOnly: true)
            defer { again.close() }
            #expect(try again.scalarInt("PRAGMA user_version") == Int64(SQLiteSchema.migrations.count))
        }
    }

    @Test func anOrderIsOneRowWithItsLinesAsJSON() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let path = configuration.store.path
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            let order = NewOrder(
                customer: Customer(phone: "+8613800138000"),
                currency: "CNY",
                items: [
                    OrderItem(sku: "TEA \"250g\"", quantity: 2, unitPriceCents: 12_800),
                    OrderItem(sku: "CUP", quantity: 1, unitPriceCents: -1),
                ],
                note: nil,
                totalCents: 25_599
            )
            let stored = try store.create(order, idempotency: nil, deadline: .inSeconds(10)).order
            let raw = try SQLiteConnection(path: path, readOnly: true)
            defer { raw.close() }
            #expect(try raw.scalarText("SELECT items FROM orders WHERE id = '\(stored.id)'") == #"""
                [{"sku":"TEA \"250g\"","quantity":2,"unit_price_cents":12800},{"sku":"CUP","quantity":1,"unit_price_cents":-1}]
                """#)
            // The lines stay in order, readable with SQLite's JSON functions.
            #expect(try raw.scalarText(
                "SELECT group_concat(value ->> 'sku', '|') FROM orders, json_each(orders.items) WHERE orders.id = '\(stored.id)'")
                == #"TEA "250g"|CUP"#)
            // Without an Idempotency-Key, neither key nor body is stored.
            #expect(try countRows("orders", at: path, where: "idempotency_key IS NULL AND request_body IS NULL") == 1)
        }
    }

    @Test func unreadableItemsAreReportedAsDamage() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            var ids: [String] = []
            for _ in 0..<5 {
                ids.append(try store.create(.sample(1), idempotency: nil, deadline: .inSeconds(10)).order.id)
            }
            let damage = [
                #"[{"sku":"A","quantity":1"#,  // not JSON
                #"{"sku":"A","quantity":1,"unit_price_cents":1}"#,  // not an array
                #"[{"sku":"A","quantity":1.5,"unit_price_cents":1}]"#,  // not an integer
                #"[{"sku":"A","quantity":1}]"#,  // a field missing
                #"[{"sku":"A","quantity":1,"unit_price_cents":1,"extra":0}]"#,  // a field too many
            ]
            let raw = try SQLiteConnection(path: configuration.store.path, readOnly: false)
            for (id, items) in zip(ids, damage) {
                let update = try raw.prepare("UPDATE orders SET items = ?1 WHERE id = ?2")
                defer { update.finalize() }
                try update.bind(1, items)
                try update.bind(2, id)
                try update.step()
            }
            raw.close()
            for id in ids {
                let error = #expect(throws: StoreError.self) { try store.order(id: id) }
                #expect(error?.code == .corrupt)
                #expect(error?.debugDescription.contains(id) == true)
            }
        }
    }

    @Test func aCommitWritesOnePagePerOrderAndOneMoreForAKey() throws {
        // The point of the one-row layout: a commit dirties one leaf page of `orders`, plus one of the key's
        // index when the order has an Idempotency-Key (a small database: every b-tree is one leaf).
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory, synchronous: .normal)
            let path = configuration.store.path
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            defer { store.close() }
            func framesWritten(_ create: () throws -> Void) throws -> Int {
                let before = try walFrames(path)
                try create()
                return try walFrames(path) - before
            }
            #expect(try framesWritten {
                _ = try store.create(.sample(1), idempotency: nil, deadline: .inSeconds(10))
            } == 1)
            #expect(try framesWritten {
                _ = try store.create(
                    .sample(2), idempotency: IdempotencyRequest(key: "k", body: [1]), deadline: .inSeconds(10))
            } == 2)
            #expect(try framesWritten {  // a replay writes nothing
                _ = try store.create(
                    .sample(2), idempotency: IdempotencyRequest(key: "k", body: [1]), deadline: .inSeconds(10))
            } == 0)
        }
    }

    @Test func lookupsUseTheirIndexes() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            store.close()
            let raw = try SQLiteConnection(path: configuration.store.path, readOnly: true)
            defer { raw.close() }
            func plan(_ sql: String) throws -> String {
                let statement = try raw.prepare("EXPLAIN QUERY PLAN " + sql)
                defer { statement.finalize() }
                var details: [String] = []
                while try statement.step() { details.append(statement.text(3)) }
                return details.joined(separator: "; ")
            }
            #expect(try plan(GroupCommitWriter.selectByKey)
                == "SEARCH orders USING INDEX orders_by_idempotency_key (idempotency_key=?)")
            #expect(try plan(GroupCommitWriter.purgeScan) == "SEARCH orders USING PRIMARY KEY (id>? AND id<?)")
            #expect(try plan(GroupCommitWriter.clearKey) == "SEARCH orders USING PRIMARY KEY (id=?)")
        }
    }

    @Test func refusesASchemaFromANewerOrderd() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let raw = try SQLiteConnection(path: configuration.store.path, readOnly: false)
            try raw.execute("PRAGMA user_version = 999")
            raw.close()
            let error = #expect(throws: StoreError.self) { try SQLiteOrderStore(settings: StoreSettings(configuration)) }
            #expect(error?.code == .unavailable)
            #expect(error?.debugDescription.contains("schema version 999") == true)
        }
    }

    @Test func missingDirectoryIsAClearErrorNamingThePath() throws {
        try withStoreDirectory { directory in
            var configuration = OrderdConfiguration()
            configuration.store.path = directory + "/missing/orderd.db"
            let error = #expect(throws: StoreError.self) { try SQLiteOrderStore(settings: StoreSettings(configuration)) }
            #expect(error?.code == .unavailable)
            #expect(error?.debugDescription.contains(directory + "/missing/orderd.db") == true)
            #expect(error?.description.contains(directory) == false)  // description stays generic
            #expect(!FileManager.default.fileExists(atPath: directory + "/missing"))
        }
    }

    @Test func sqliteErrorsCarryStatusAndMessage() throws {
        try withStoreDirectory { directory in
            let path = directory + "/not-a-db"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: 0x41, count: 4096)))
            var configuration = OrderdConfiguration()
            configuration.store.path = path
            let error = #expect(throws: StoreError.self) { try SQLiteOrderStore(settings: StoreSettings(configuration)) }
            #expect(error?.code == .corrupt)
            #expect(error?.sqliteStatus == 26)  // SQLITE_NOTADB
            #expect(error?.debugDescription.contains("SQLite status 26") == true)
            #expect(error?.debugDescription.contains("file is not a database") == true)
            #expect(error?.description == "The order store is damaged.")
        }
    }

    @Test func closedStoreRefusesWorkAndClosesTwice() throws {
        try withStoreDirectory { directory in
            let store = try SQLiteOrderStore(settings: StoreSettings(.store(in: directory)))
            _ = try store.create(.sample(1), idempotency: nil, deadline: .inSeconds(10))
            store.close()
            store.close()
            let createError = #expect(throws: StoreError.self) {
                try store.create(.sample(2), idempotency: nil, deadline: .inSeconds(10))
            }
            #expect(createError?.code == .unavailable)
            let readError = #expect(throws: StoreError.self) { try store.order(id: "x") }
            #expect(readError?.code == .unavailable)
        }
    }
}
