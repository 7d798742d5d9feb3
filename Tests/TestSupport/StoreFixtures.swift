import Foundation
import Testing
// @testable: these tests read internals: OrderdConfig (SQLiteConnection); OrderdOrders (SQLiteConnection);
//  OrderdStore (SQLiteConnection); OrderdSupport (SQLiteConnection).
@testable import OrderdConfig
@testable import OrderdOrders
@testable import OrderdStore
@testable import OrderdSupport

// Fixtures of the suites that open stores (OrderdStoreTests, OrderdFollowUpsTests, OrderdServerTests). `@testable`:
// they read the database under the store (SQLiteConnection) the way only a test may.

extension OrderdConfiguration {
    /// A configuration whose database lives in `directory`, with no SMS limit per recipient (the suites send many
    /// orders to one number; RecipientThrottleTests sets its own).
    package static func store(
        in directory: String,
        synchronous: Store.Synchronous = .full,
        busyTimeout: Duration = .seconds(5)
    ) -> OrderdConfiguration {
        var configuration = OrderdConfiguration()
        configuration.store.path = directory + "/orderd.db"
        configuration.sms.perRecipient = nil
        configuration.store.synchronous = synchronous
        configuration.store.busyTimeout = busyTimeout
        return configuration
    }
}

extension NewOrder {
    package static func sample(_ number: Int) -> NewOrder {
        NewOrder(
            customer: Customer(phone: "+86138\(100_000 + number)", email: "buyer\(number)@example.com"),
            currency: "CNY",
            items: [
                OrderItem(sku: "SKU-\(number)", quantity: 1 + number % 5, unitPriceCents: 1_000),
                OrderItem(sku: "GIFT", quantity: 1, unitPriceCents: 0),
            ],
            note: number % 2 == 0 ? nil : "order \(number)",
            totalCents: Int64(1_000 * (1 + number % 5))
        )
    }
}

extension ContinuousClock.Instant {
    package static func inSeconds(_ seconds: Double) -> ContinuousClock.Instant {
        .now + .milliseconds(Int64(seconds * 1_000))
    }
}

/// Runs `body` with a fresh temporary directory, removed afterwards.
package func withStoreDirectory(_ body: (String) throws -> Void) throws {
    let path = try makeStoreDirectory()
    defer { try? FileManager.default.removeItem(atPath: path) }
    try body(path)
}

/// The same for an `async` test, one that waits with `Task.sleep` rather than on its thread (see `pollUntil`).
package func withStoreDirectory(_ body: (String) async throws -> Void) async throws {
    let path = try makeStoreDirectory()
    defer { try? FileManager.default.removeItem(atPath: path) }
    try await body(path)
}

private func makeStoreDirectory() throws -> String {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("orderd-store-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    return url.path
}

/// Frames in the WAL file at `path` + "-wal": what the commits since it was last reset wrote, a page each.
package func walFrames(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path + "-wal")
    let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
    return max(0, size - 32) / (4_096 + 24)  // WAL header; frame header + page (SQLite's default page size)
}

package func countRows(_ table: String, at path: String, where condition: String = "1") throws -> Int64 {
    let connection = try SQLiteConnection(path: path, readOnly: true)
    defer { connection.close() }
    return try connection.scalarInt("SELECT count(*) FROM \(table) WHERE \(condition)") ?? -1
}

/// Runs `body(i)` on `count` OS threads of our own (like request threads), released together, and waits for
/// all of them.
package func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) throws {
    let gate = WriterGate()
    let threads = try (0..<count).map { index in
        try OwnedThread(name: "test-\(index)") {
            gate.pass()
            body(index)
        }
    }
    gate.open()
    for thread in threads { thread.join() }
}

/// Runs blocking work (a `stop` that waits for Swift Tasks to end) on a thread of its own and awaits its result:
/// the test's Task waits without holding a thread of the cooperative pool, which that work may need.
package func onOwnThread<Value: Sendable>(
    _ name: String = "test-blocking", _ body: @escaping @Sendable () -> Value
) async throws -> Value {
    var thread: OwnedThread?
    let value = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
        do {
            thread = try OwnedThread(name: name) { continuation.resume(returning: body()) }
        } catch {
            continuation.resume(throwing: error)
        }
    }
    thread?.join()  // it ends right after answering
    return value
}

/// Threads wait in `pass()` until `open()`.
package final class WriterGate: @unchecked Sendable {
    private let mutex = PThreadMutex()
    private var isOpen = false

    package init() {}

    package func pass() {
        mutex.withLock {
            while !isOpen { mutex.wait() }
        }
    }

    package func open() {
        mutex.withLock {
            isOpen = true
            mutex.broadcast()
        }
    }
}

/// Values collected from several threads.
package final class Collected<Value>: @unchecked Sendable {
    private let mutex = PThreadMutex()
    private var storage: [Value] = []

    package init() {}

    package func append(_ value: Value) { mutex.withLock { storage.append(value) } }
    package var values: [Value] { mutex.withLock { storage } }
}

/// Waits until `condition` holds, up to `timeout`, polling every 2 ms; true when it did. `async`, so that the
/// wait never holds a thread of the cooperative pool (see `pollUntil`).
package func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    await pollUntil(timeout, every: .milliseconds(2), condition)
}

/// A wall clock the test moves by hand.
package final class ManualWallClock: @unchecked Sendable {
    private let mutex = PThreadMutex()
    private var millis: Int64

    package init(millis: Int64) { self.millis = millis }

    package var now: Int64 { mutex.withLock { millis } }
    package func advance(by delta: Int64) { mutex.withLock { millis += delta } }
}
