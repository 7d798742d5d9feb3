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

    /// Both kinds of checkpoint reach the store's observer (the metrics): the checkpointer's passes, and the
    /// writer's own once the WAL has grown past the restart size (1 page here, so the first order's commit).
    @Test func theCheckpointersPassesAndTheWritersOwnCheckpointReachTheObserver() async throws {
        try await withStoreDirectory { directory in
            var tuning = SQLiteOrderStore.Tuning()
            tuning.walRestartFrames = 1
            let store = try SQLiteOrderStore(
                store: OrderdConfiguration.store(in: directory).store, idempotencyTTL: .seconds(3600),
                writeSteps: [], tuning: tuning)
            defer { store.close() }
            let observer = CheckpointLog()
            store.observeCommits(observer)
            var id = 0
            // Orders until the writer has run a checkpoint of its own: each commit grows the WAL past 1 page, the
            // checkpointer's next pass asks the writer, and the writer runs it after its next transaction.
            let byWriter = await pollUntil(.seconds(20)) {
                id += 1
                _ = try? store.create(.sample(id), idempotency: nil, deadline: .inSeconds(10))
                return observer.checkpoints.values.contains { $0.byWriter }
            }
            #expect(byWriter, "the writer's checkpoint never reached the observer")
            #expect(observer.checkpoints.values.contains { !$0.byWriter }, "no pass of the checkpointer reached it")
            #expect(observer.checkpoints.values.allSatisfy { $0.duration >= .zero })
        }
    }

    final class CheckpointLog: CommitObserver {
        let checkpoints = Collected<(duration: Duration, byWriter: Bool)>()
        func transactionFinished(duration: Duration, orders: Int, committed: Bool) {}
        func checkpointFinished(duration: Duration, byWriter: Bool) {
            checkpoints.append((duration, byWriter))
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
