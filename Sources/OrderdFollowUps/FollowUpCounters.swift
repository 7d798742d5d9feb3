import OrderdStore

/// What follow-up work did since start.
package struct FollowUpCounters: Sendable, Equatable {
    /// Totals over every kind.
    package var done = 0
    package var retried = 0
    package var dead = 0
    package var timedOut = 0
    package var stuck = 0
    /// Durable tasks that found the queue full and were left to the outbox.
    package var overflowed = 0
    package var bestEffortDone = 0
    /// Best-effort tasks dropped (queue full, or never started at a stop), by kind.
    package var dropped: [TaskKind: Int] = [:]
    /// Durable outcomes by kind (`unknown` for a kind this orderd does not know) and result, for
    /// `orderd_tasks_done_total{kind}`, `orderd_tasks_retried_total{kind}` and
    /// `orderd_tasks_dead_total{kind,reason}`.
    package var byKind: [OutcomeKey: Int] = [:]

    package struct OutcomeKey: Sendable, Hashable {
        package var kind: String
        package var result: Result

        package init(kind: String, result: Result) {
            self.kind = kind
            self.result = result
        }
    }

    package enum Result: Sendable, Hashable {
        case done, retried
        case dead(RetryPolicy.DeadReason)
    }

    package init() {}

    mutating func count(_ result: Result, kind: String) {
        byKind[OutcomeKey(kind: kind, result: result), default: 0] += 1
        switch result {
        case .done: done += 1
        case .retried: retried += 1
        case .dead: dead += 1
        }
    }
}
