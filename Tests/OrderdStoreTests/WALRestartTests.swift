import Foundation
import Testing
import TestSupport
// @testable: these tests drive internals: OrderdStore (SQLiteConnection, WALRestart).
@testable import OrderdStore

/// The WAL starts over under steady writes only if the writer checkpoints between its transactions
/// (`WALRestart`): a checkpoint by another connection, however often, always leaves the writer's latest
/// commit to copy when its next transaction begins, and SQLite then appends to the WAL for good.
@Suite struct WALRestartTests {
    /// The interleaving of steady load, made deterministic: the writer commits and begins its next transaction
    /// before the checkpointer's pass. Returns the WAL's size in frames after `rounds` transactions.
    static func walFrames(rounds: Int, writerCheckpoints: Bool, path: String) throws -> Int {
        let writer = try SQLiteConnection(path: path, readOnly: false)
        defer { writer.close() }
        #expect(try writer.scalarText("PRAGMA journal_mode = WAL") == "wal")
        try writer.execute("PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (b BLOB)")
        let checkpointer = try SQLiteConnection(path: path, readOnly: false)
        defer { checkpointer.close() }
        // Reading the mode opens the WAL on this connection (the store's configure does the same).
        #expect(try checkpointer.scalarText("PRAGMA journal_mode") == "wal")
        let restart = WALRestart()
        try writer.execute("BEGIN IMMEDIATE")
        for _ in 0..<rounds {
            try writer.execute("INSERT INTO t VALUES (randomblob(6000)); COMMIT")
            if writerCheckpoints { restart.runIfRequested(on: writer) }
            try writer.execute("BEGIN IMMEDIATE")
            // The checkpointer's pass, while the writer's next transaction is open: as WALCheckpointer with a
            // threshold of 16 frames.
            if let pass = checkpointer.checkpointPassive(), pass.walFrames >= 16 { restart.request() }
        }
        try writer.execute("COMMIT")
        return try #require(checkpointer.checkpointPassive()).walFrames
    }

    @Test func theWALStartsOverOnlyWhenTheWriterCheckpointsBetweenTransactions() throws {
        try withStoreDirectory { directory in
            // Each transaction writes 3 frames (a page of the table and two overflow pages, about).
            let appended = try Self.walFrames(rounds: 100, writerCheckpoints: false, path: directory + "/a.db")
            #expect(appended >= 200, "without the writer's checkpoint the WAL only grows: \(appended) frames")
            let restarted = try Self.walFrames(rounds: 100, writerCheckpoints: true, path: directory + "/b.db")
            #expect(restarted <= 32, "with it the WAL starts over once it holds 16 frames: \(restarted) frames")
        }
    }
}
