#if DEBUG
import Synchronization

#if canImport(Glibc)
import Glibc
#endif
import OrderdSupport

/// Faults the integration tests inject into a running orderd, compiled into debug builds only (`make test`
/// builds debug; `make build`, `make install` and the package build release, where none of this exists).
/// Chosen with the environment variable `ORDERD_TEST_FAULT`, read once at start.
final class FaultInjection: Sendable {
    static let shared = FaultInjection(getenv("ORDERD_TEST_FAULT").map { String(cString: $0) } ?? "")

    /// `lose-claimed-outcomes-once`: the first writer transaction that records the outcome of a claimed task
    /// (its lease token is a claim's, `<owner>/<n>`) fails, so those outcomes are lost while the rows still
    /// name this process's lease: the lost-handle case the lease book must recover from.
    private let armed: Atomic<Bool>

    init(_ fault: String) {
        armed = Atomic(fault == "lose-claimed-outcomes-once")
    }

    func loseClaimedOutcomesOnce(_ changes: [OutboxChange]) throws(StoreError) {
        guard armed.load(ordering: .relaxed) else { return }
        let claimed = changes.contains { change in
            switch change {
            case .done(_, let owner, _), .retry(_, let owner, _, _), .dead(_, let owner, _, _): return owner.contains("/")
            case .release, .renew: return false
            }
        }
        guard claimed, armed.compareExchange(expected: true, desired: false, ordering: .relaxed).exchanged else { return }
        let line = "orderd: test fault injected: a writer transaction with outcomes of claimed tasks fails\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        throw StoreError.unavailable("test fault: lose-claimed-outcomes-once")
    }
}
#endif
