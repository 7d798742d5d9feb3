import OrderdConfig
import OrderdStore
import OrderdSupport

/// The leases this process holds a handle for: a task queued or running in its executor. Only these are
/// renewed.
///
/// A task whose handle was lost while its row still names one of our leases (a writer transaction that failed
/// and took the task's outcome with it, a PostgreSQL claim that committed after we stopped waiting for it) is not
/// in the book, so its lease runs out within `lease_timeout` and the task is claimed again, by this process or
/// another, without a restart. Renewing by owner alone would keep such a task leased for as long as the process
/// lives.
final class LeaseBook: Sendable {
    /// This process's name on leases (`OutboxInsertion.makeOwner()`): what new orders' tasks are leased with.
    let owner: String
    private struct State {
        var nextClaim: UInt64 = 1
        var held: [TaskKey: String] = [:]
    }
    // Held by request threads, dropped by every thread that settles a task: a pthread mutex, not a
    // `Synchronization.Mutex` (see PThreadLocked).
    private let state = PThreadLocked(State())

    init(owner: String) {
        self.owner = owner
    }

    /// A token for one claim: `<owner>/<n>`, never reused by this process. A task claimed again gets a new one,
    /// so a late outcome of an earlier lease matches nothing.
    func newClaimToken() -> String {
        let claim = state.withLock { state in
            defer { state.nextClaim += 1 }
            return state.nextClaim
        }
        return "\(owner)/\(claim)"
    }

    func hold(_ key: TaskKey, owner: String) {
        state.withLock { $0.held[key] = owner }
    }

    /// The handle is gone (its outcome was recorded, or it was released): stop renewing that lease.
    func drop(_ key: TaskKey, owner: String) {
        state.withLock { state in
            if state.held[key] == owner { state.held[key] = nil }
        }
    }

    var held: [TaskLease] {
        state.withLock { $0.held.map { TaskLease(key: $0.key, owner: $0.value) } }
    }

    var count: Int { state.withLock { $0.held.count } }
}
