import OrderdConfig
import OrderdSupport

/// The kinds of follow-up work done for every new order, after its response is finished.
package enum TaskKind: String, Sendable, Hashable, CaseIterable, Comparable {
    /// The SMS to the buyer through the gateway (`[task.sms]`).
    case sms
    /// The order posted to the shop's URL (`[task.webhook]`), when one is configured.
    case webhook
    /// One JSON line per order in the audit file (`[task.audit]`).
    case audit
    /// Orders and revenue per minute and currency for `GET /stats` (`[task.stats]`).
    case stats

    /// Durable kinds are written to the outbox in the order's own transaction and are done at least once,
    /// whatever happens to the process. Best-effort kinds live only in memory: when the executor's queue is
    /// full they are dropped (and counted), and a crash loses them.
    package var isDurable: Bool { self != .stats }

    package static func < (a: TaskKind, b: TaskKind) -> Bool { a.rawValue < b.rawValue }

    /// Its place in `allCases`: for tables indexed by kind.
    package var index: Int {
        switch self {
        case .sms: return 0
        case .webhook: return 1
        case .audit: return 2
        case .stats: return 3
        }
    }

    /// By its place, not its name: a kind is a dictionary key on every task's way (leases, settling), and the
    /// default for a `String` raw value hashes the string.
    package func hash(into hasher: inout Hasher) { hasher.combine(index) }
}

/// How one kind is run and retried, from its `[task.<kind>]` section.
package struct TaskPolicy: Sendable, Equatable {
    /// Deadline of one attempt: the kind's `timeout`, else `executor.task_timeout`.
    package var timeout: Duration
    /// Attempts before the task is dead.
    package var maxAttempts: Int
    /// No attempt starts later than this after the order (or after a manual retry).
    package var maxAge: Duration

    package init(timeout: Duration, maxAttempts: Int, maxAge: Duration) {
        self.timeout = timeout
        self.maxAttempts = maxAttempts
        self.maxAge = maxAge
    }
}

extension OrderdConfiguration {
    /// The kinds a new order gets, in a fixed order.
    package var enabledTaskKinds: [TaskKind] {
        var kinds: [TaskKind] = [.sms]
        if !webhook.url.isEmpty { kinds.append(.webhook) }
        kinds.append(.audit)
        if stats.enabled { kinds.append(.stats) }
        return kinds
    }

    /// The policy of `kind` under this configuration.
    package func policy(for kind: TaskKind) -> TaskPolicy {
        let fallback = executor.taskTimeout
        switch kind {
        case .sms: return TaskPolicy(timeout: sms.timeout ?? fallback, maxAttempts: sms.maxAttempts, maxAge: sms.maxAge)
        case .webhook:
            return TaskPolicy(timeout: webhook.timeout ?? fallback, maxAttempts: webhook.maxAttempts, maxAge: webhook.maxAge)
        case .audit: return TaskPolicy(timeout: audit.timeout ?? fallback, maxAttempts: audit.maxAttempts, maxAge: audit.maxAge)
        case .stats: return TaskPolicy(timeout: stats.timeout ?? fallback, maxAttempts: 1, maxAge: fallback)
        }
    }
}
