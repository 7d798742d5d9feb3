import OrderdSupport

/// Threads of our own that run every Task of the PostgreSQL store (the pool's run loop, queries, the outbox
/// writer), through Swift's task executor preference.
///
/// The store's API is blocking: a thread waits while a Task does the query. If that Task needed Swift's
/// cooperative pool and the waiting threads were that pool's (two on two cores), the Task would never run.
/// On these threads it always can, whoever waits. Hand-written: no listed package offers a `TaskExecutor`
/// on threads (swift-nio 2.101's event loops are not task executors).
final class PostgresExecutor: TaskExecutor, Sendable {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var head = 0
    }

    private let queue = PThreadLocked(Queue())

    /// The store's executor: two threads, started on first use, living as long as the process.
    static let shared = PostgresExecutor(threads: 2)

    private init(threads: Int) {
        for index in 0..<threads {
            let thread = try? OwnedThread(name: "orderd-pg-\(index)") { [self] in run() }
            precondition(thread != nil, "cannot start the PostgreSQL executor's threads")
        }
    }

    func enqueue(_ job: UnownedJob) {
        queue.withLock { queue in
            queue.jobs.append(job)
            self.queue.signal()
        }
    }

    private func run() {
        let executor = asUnownedTaskExecutor()
        while true {
            let job = queue.withLock { (queue, _) -> LockedStep<UnownedJob> in
                guard queue.head < queue.jobs.count else { return .wait(until: nil) }
                let job = queue.jobs[queue.head]
                queue.head += 1
                if queue.head == queue.jobs.count {
                    queue.jobs.removeAll(keepingCapacity: true)
                    queue.head = 0
                }
                return .done(job)
            }
            job.runSynchronously(on: executor)
        }
    }
}
