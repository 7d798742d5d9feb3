import Foundation
import OrderdSupport
import Testing
import TestSupport
import OrderdConfig
// @testable: these tests read internals: OrderdStore (SQLiteSchema).
@testable import OrderdStore

/// `orderd tasks` on SQLite beside a running daemon: it never migrates, never checkpoints, and refuses a
/// database of another schema version.
@Suite struct SQLiteOutboxAdministrationTests {
    /// A migrated database with one order (and its two tasks), closed.
    static func database(in directory: String) throws -> OrderdConfiguration {
        let configuration = OrderdConfiguration.store(in: directory)
        let insertion = OutboxInsertion(kinds: [.sms, .audit], owner: "a", lease: .seconds(60))
        let store = try SQLiteOrderStore(settings: StoreSettings(configuration), outbox: insertion)
        _ = try store.create(.sample(1), idempotency: nil, deadline: .inSeconds(10))
        store.close()
        return configuration
    }

    @Test(arguments: [0, 1, SQLiteSchema.migrations.count + 1, 99], [false, true])
    func aDatabaseOfAnotherSchemaVersionIsRefusedAndLeftAsItIs(_ version: Int, _ writable: Bool) throws {
        try withStoreDirectory { directory in
            let configuration = try Self.database(in: directory)
            do {
                let raw = try SQLiteConnection(path: configuration.store.path, readOnly: false)
                try raw.execute("PRAGMA user_version = \(version)")
                raw.close()
            }
            let mismatch = #expect(throws: SchemaMismatch.self) {
                _ = try SQLiteOutboxAdministration(store: configuration.store, writable: writable)
            }
            #expect(mismatch?.found == version && mismatch?.expected == SQLiteSchema.migrations.count)
            let text = mismatch?.description ?? ""
            #expect(text.contains(configuration.store.path) && text.hasSuffix("."), "\(text)")
            #expect(version == 0 ? text.contains("no orderd schema") : text.contains("schema version \(version)"), "\(text)")
            // Never migrated: the version is still the one it had.
            let raw = try SQLiteConnection(path: configuration.store.path, readOnly: true)
            defer { raw.close() }
            #expect(try raw.scalarInt("PRAGMA user_version") == Int64(version))
        }
    }

    @Test func aMissingDatabaseIsNotCreated() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            #expect(throws: StoreError.self) {
                _ = try SQLiteOutboxAdministration(store: configuration.store, writable: true)
            }
            #expect(!FileManager.default.fileExists(atPath: configuration.store.path))
        }
    }

    /// A writer (standing in for the daemon) holds commits in the WAL that are not in the database file yet.
    /// Listing reads them, and leaves both files byte for byte as they were: no checkpoint, not even as the
    /// last connection once the writer has gone.
    @Test(arguments: [true, false])
    func listingReadsTheWALAndNeverCheckpoints(_ writerStillOpen: Bool) throws {
        try withStoreDirectory { directory in
            let configuration = try Self.database(in: directory)
            let path = configuration.store.path
            let writer = try SQLiteConnection(path: path, readOnly: false)
            try writer.execute("PRAGMA wal_autocheckpoint = 0")
            try writer.disableCheckpointOnClose()
            try writer.execute("UPDATE tasks SET state = 'dead', finished_at_ms = 1, last_error = 'gone' WHERE kind = 'sms'")
            if !writerStillOpen { writer.close() }
            defer { writer.close() }
            let databaseBefore = try Data(contentsOf: URL(fileURLWithPath: path))
            let walBefore = try Data(contentsOf: URL(fileURLWithPath: path + "-wal"))
            #expect(walBefore.count > 32, "the writer's commit is in the WAL")

            let administration = try SQLiteOutboxAdministration(store: configuration.store, writable: false)
            let dead = try administration.tasks(in: .dead, limit: 10)
            let counts = try administration.counts()
            administration.close()

            #expect(dead.count == 1 && dead.first?.lastError == "gone")
            #expect(counts.pending == 1 && counts.dead == 1 && counts.done == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == databaseBefore, "the database file changed")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path + "-wal")) == walBefore, "the WAL changed")
        }
    }

    @Test func aReadOnlyOpeningCannotWrite() throws {
        try withStoreDirectory { directory in
            let configuration = try Self.database(in: directory)
            let administration = try SQLiteOutboxAdministration(store: configuration.store, writable: false)
            defer { administration.close() }
            let key = try #require(try administration.tasks(in: nil, limit: 1).first?.key)
            #expect(throws: StoreError.self) { _ = try administration.retryDead(key, nowMillis: 0) }
        }
    }
}
