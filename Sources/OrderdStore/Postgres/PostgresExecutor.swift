import OrderdSupport
import Synchronization

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

    /// Every store's executor once one started it; nil before, or after a start failed (the next store tries again).
    private static let started = Mutex<PostgresExecutor?>(nil)

    /// The stores' executor: two threads, started by the first store that opens, living as long as the process.
    /// Throws `unavailable` with the reason when a thread cannot start (out of threads or memory): the store
    /// then fails to open, as it would without a connection.
    static func shared() throws(StoreError) -> PostgresExecutor {
        try started.withLock { (started: inout PostgresExecutor?) throws(StoreError) -> PostgresExecutor in
            if let started { return started }
            let made = try PostgresExecutor(threads: 2)
            started = made
            return made
        }
    }

    /// A thread that started before another one failed stays, waiting on a queue nobody fills: threads cannot
    /// be taken back, and it costs a stack.
    private init(threads: Int) throws(StoreError) {
        for index in 0..<threads {
            do {
                _ = try OwnedThread(name: "orderd-pg-\(index)") { [self] in run() }
            } catch {
                throw StoreError(error)
            }
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
