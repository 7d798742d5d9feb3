import Testing
import TestSupport
import OrderdConfig
import OrderdStore
import OrderdFollowUps
// @testable: these tests read internals: OrderdServer (Readiness).
@testable import OrderdServer

/// `/readyz`'s decision on a real SQLite store: ready while it reads, not ready once it is closed or the
/// process stops.
@Suite struct ReadinessTests {
    @Test func readyWhileTheStoreReadsNotWhenClosedOrDraining() throws {
        try withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let store = try SQLiteOrderStore(
                settings: StoreSettings(configuration), outbox: FollowUps.insertion(for: configuration, owner: "readiness"))
            let readiness = Readiness(store: store)
            #expect(readiness.check() == nil)
            store.close()
            #expect(readiness.check() == "store: unavailable")

            let open = try SQLiteOrderStore(
                settings: StoreSettings(configuration), outbox: FollowUps.insertion(for: configuration, owner: "readiness"))
            defer { open.close() }
            let draining = Readiness(store: open)
            draining.beginDraining()
            #expect(draining.check() == "draining: orderd is stopping")
        }
    }
}
