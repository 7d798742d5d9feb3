import OrderdSupport

/// Threads of our own that run every Task of the PostgreSQL store (the pool's run loop, queries, the outbox
/// writer), through Swift's task executor preference.
///
/// The store's API is blocking: a thread waits while a Task does the query. If that Task needed Swift's
/// cooperative pool and the waiting threads were that pool's (two on two cores), the Task would never run.
/// On these threads it always can, whoever waits. Hand-written: no listed package offers a `TaskExecutor`
/// on threads (swift-nio 2.101's event loops are not task executors).
final class PostgresExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: `jobs` is only touched with `mutex` held.
    private let mutex = PThreadMutex()
    private var jobs: [UnownedJob] = []
    private var head = 0

    /// The store's executor: two threads, started on first use, living as long as the process.
    static let shared = PostgresExecutor(threads: 2)

    private init(threads: Int) {
        for index in 0..<threads {
            let thread = try? OwnedThread(name: "orderd-pg-\(index)") { [self] in run() }
            precondition(thread != nil, "cannot start the PostgreSQL executor's threads")
        }
    }

    func enqueue(_ job: UnownedJob) {
        mutex.withLock {
            jobs.append(job)
            mutex.signal()
        }
    }

    private func run() {
        let executor = asUnownedTaskExecutor()
        while true {
            let job: UnownedJob = mutex.withLock {
                while head == jobs.count { _ = mutex.wait() }
                let job = jobs[head]
                head += 1
                if head == jobs.count {
                    jobs.removeAll(keepingCapacity: true)
                    head = 0
                }
                return job
            }
            job.runSynchronously(on: executor)
        }
    }
}
