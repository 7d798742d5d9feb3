import Foundation
import OrderdConfig
import OrderdSupport
import Testing
import TestSupport
// @testable: these tests read internals: OrderdStore (SQLiteOrderStore.checkpointerIdle).
@testable import OrderdStore

/// The WAL checkpointer sleeps once every frame is copied; the writer's next commit must wake it.
@Suite struct WALCheckpointerTests {
    @Test func aCommitAfterTheCheckpointerWentIdleIsCopiedAndTheStopStillEndsIt() async throws {
        try await withStoreDirectory { directory in
            let configuration = OrderdConfiguration.store(in: directory)
            let path = configuration.store.path
            let store = try SQLiteOrderStore(settings: StoreSettings(configuration))
            // The migration's frames copied, it sleeps.
            let wentIdle = await pollUntil(.seconds(20)) { store.checkpointerIdle }
            #expect(wentIdle)
            #expect(try Self.walIndex(path).copiedAll)

            _ = try store.create(.sample(1), idempotency: nil, deadline: .inSeconds(10))
            // The commit's frames are in the WAL before `create` returns: copied once they all are.
            let copied = await pollUntil(.seconds(20)) { Self.everyFrameCopied(path) }
            #expect(copied, "the commit was never checkpointed")
            let idleAgain = await pollUntil(.seconds(20)) { store.checkpointerIdle }
            #expect(idleAgain)

            // The stop ends the sleeping thread: close returns (it joins it).
            let closed = Collected<Bool>()
            let closer = try OwnedThread(name: "test-close") {
                store.close()
                closed.append(true)
            }
            let returned = await pollUntil(.seconds(20)) { !closed.values.isEmpty }
            #expect(returned, "close never returned")
            closer.join()
            #expect(!store.checkpointerIdle)
        }
    }

    /// The WAL holds frames, and every one of them is copied into the database.
    static func everyFrameCopied(_ path: String) -> Bool {
        guard let index = try? walIndex(path) else { return false }
        return index.frames > 0 && index.copied == index.frames
    }

    /// The WAL index's frame count and how many of them are copied into the database (`mxFrame` and
    /// `nBackfill` in the -shm file, native byte order), read without a connection: asking SQLite would take a
    /// checkpoint itself.
    static func walIndex(_ path: String) throws -> WALIndex {
        let shm = try Data(contentsOf: URL(fileURLWithPath: path + "-shm"))
        func word(_ offset: Int) -> Int {
            Int(shm.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) })
        }
        return WALIndex(frames: word(16), copied: word(96))
    }

    struct WALIndex {
        var frames: Int
        var copied: Int
        var copiedAll: Bool { copied == frames }
    }
}
