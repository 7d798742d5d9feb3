import Foundation
import OrderdSupport
import Testing
import TestSupport
import OrderdConfig
// @testable: these tests read internals: OrderdStore (statistics).
@testable import OrderdStore

/// Throughput and batch sizes of group commit; opt-in because it takes a while and its numbers depend on the
/// machine: `ORDERD_STORE_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter StoreBenchmarkTests`.
@Suite(.serialized, .enabled(
    if: ProcessInfo.processInfo.environment["ORDERD_STORE_BENCH"] != nil,
    "a measurement, not a test: set ORDERD_STORE_BENCH=1 to run it"))
struct StoreBenchmarkTests {
    @Test(arguments: [
        (OrderdConfiguration.Store.Synchronous.full, 8), (.full, 64), (.full, 256),
        (.normal, 8), (.normal, 64), (.normal, 256),
    ])
    func groupCommitThroughput(_ synchronous: OrderdConfiguration.Store.Synchronous, _ threads: Int) throws {
        try withStoreDirectory { directory in
            let store = try SQLiteOrderStore(settings: StoreSettings(.store(in: directory, synchronous: synchronous)))
            defer { store.close() }
            let duration = Duration.seconds(3)
            let latencies = Collected<[Duration]>()
            let started = ContinuousClock.now
            try onThreads(threads) { thread in
                var mine: [Duration] = []
                var number = 0
                while ContinuousClock.now - started < duration {
                    let before = ContinuousClock.now
                    _ = try? store.create(.sample(thread * 1_000_000 + number), idempotency: nil, deadline: .inSeconds(30))
                    mine.append(ContinuousClock.now - before)
                    number += 1
                }
                latencies.append(mine)
            }
            let elapsed = ContinuousClock.now - started
            let all = latencies.values.flatMap { $0 }.sorted()
            let statistics = store.statistics
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            func percentile(_ p: Double) -> String {
                let value = all[min(all.count - 1, Int(Double(all.count) * p))]
                return String(format: "%.1fms", Double(value.components.attoseconds) / 1e15 + Double(value.components.seconds) * 1e3)
            }
            print("""
                bench synchronous=\(synchronous) threads=\(threads): \(statistics.writes) orders in \(String(format: "%.1f", seconds))s \
                = \(Int(Double(statistics.writes) / seconds))/s; \(statistics.commits) commits, \
                mean batch \(String(format: "%.1f", Double(statistics.writes) / Double(max(1, statistics.commits)))), \
                largest \(statistics.largestBatch), sizes by power of two \(statistics.batchSizes); \
                latency p50 \(percentile(0.5)) p99 \(percentile(0.99)) max \(percentile(1))
                """)
            #expect(statistics.writes == all.count)
        }
    }
}
