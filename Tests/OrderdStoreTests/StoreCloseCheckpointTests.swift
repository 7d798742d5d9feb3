import Foundation
import OrderdSupport
import Testing
import TestSupport
import OrderdConfig
// @testable: these tests read internals: OrderdStore (SQLiteConnection, SQLiteSchema).
@testable import OrderdStore

/// Closing the store beside another user of the database (`orderd tasks`, the next process of a restart) must
/// not wait for it: no TRUNCATE checkpoint, which would wait up to busy_timeout for the other's write lock.
@Suite struct StoreCloseCheckpointTests {
    @Test func closingBesideAnotherWriterNeitherWaitsForItNorTakesItsWAL() async throws {
        try await withStoreDirectory { directory in
            // busy_timeout at its largest: a TRUNCATE checkpoint would wait a minute for the other writer.
            let configuration = OrderdConfiguration.store(in: directory, busyTimeout: .seconds(60))
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            let order = try store.create(.sample(1), idempotency: nil, deadline: .inSeconds(10)).order
            let other = try SQLiteConnection(path: configuration.store.path, readOnly: false)
            defer { other.close() }
            try other.setBusyTimeout(.seconds(60))
            try other.execute("BEGIN IMMEDIATE")
            try other.execute("UPDATE orders SET note = 'written beside the close'")

            let closed = Collected<Bool>()
            let closer = try OwnedThread(name: "test-close") {
                store.close()
                closed.append(true)
            }
            // An outcome, not a timing: close returns while the other connection still holds its write lock.
            // The bound is a hang guard, half of what a TRUNCATE checkpoint would wait; the test waits for it
            // without holding a thread of the cooperative pool (see `pollUntil`).
            let returned = await pollUntil(.seconds(30), every: .milliseconds(2)) { !closed.values.isEmpty }
            #expect(returned, "closing the store waited for another connection's write lock")
            try other.execute("COMMIT")
            closer.join()
            #expect(try other.scalarText("SELECT note FROM orders WHERE id = '\(order.id)'") == "written beside the close")
            #expect(try other.scalarInt("PRAGMA user_version") == Int64(SQLiteSchema.migrations.count))
        }
    }
}
