import OrderdExecutor
import OrderdOrders
import OrderdStore
import OrderdSupport

/// One attempt at a durable task, as the executor runs it. Its outcome goes to the `TaskSettler`, which
/// records it in the outbox under the task's lease.
final class OutboxTask: ExecutorTask {
    let lease: TaskLease
    let order: StoredOrder
    /// Attempts recorded before this one.
    let previousAttempts: Int
    let ageFromMillis: Int64
    let timeout: Duration
    private let handler: any FollowUpHandler
    private let settler: TaskSettler

    var key: TaskKey { lease.key }
    var kind: String { lease.key.kind.rawValue }

    init(lease: TaskLease, order: StoredOrder, previousAttempts: Int, ageFromMillis: Int64, timeout: Duration,
         handler: any FollowUpHandler, settler: TaskSettler) {
        self.lease = lease
        self.order = order
        self.previousAttempts = previousAttempts
        self.ageFromMillis = ageFromMillis
        self.timeout = timeout
        self.handler = handler
        self.settler = settler
    }

    func run() async throws {
        try await handler.perform(
            order: order, taskID: key.description, attempt: previousAttempts + 1,
            deadline: ContinuousClock.now.advanced(by: timeout))
    }

    func finished(_ outcome: ExecutorOutcome) {
        settler.settle(self, outcome)
    }

    /// Hands the attempt to `executor`, or to its handler's own queue when it has one. False: refused (full or
    /// stopping); the caller releases the lease.
    func start(on executor: BoundedExecutor) -> Bool {
        guard let queued = handler.queued else { return executor.trySubmit(self, start: .batched) }
        return queued.enqueue(
            order: order, taskID: key.description, attempt: previousAttempts + 1,
            deadline: ContinuousClock.now.advanced(by: timeout)
        ) { [self] outcome in finished(outcome) }
    }
}

/// A best-effort task: in memory only, run at most once, dropped when the queue is full.
final class BestEffortTask: ExecutorTask {
    let order: StoredOrder
    let timeout: Duration
    private let taskKind: TaskKind
    private let handler: any FollowUpHandler
    private let settler: TaskSettler

    var kind: String { taskKind.rawValue }

    init(kind: TaskKind, order: StoredOrder, timeout: Duration, handler: any FollowUpHandler, settler: TaskSettler) {
        self.taskKind = kind
        self.order = order
        self.timeout = timeout
        self.handler = handler
        self.settler = settler
    }

    func run() async throws {
        try await handler.perform(
            order: order, taskID: "\(order.id):\(taskKind.rawValue)", attempt: 1,
            deadline: ContinuousClock.now.advanced(by: timeout))
    }

    func finished(_ outcome: ExecutorOutcome) {
        settler.settleBestEffort(taskKind, order: order, outcome)
    }
}
