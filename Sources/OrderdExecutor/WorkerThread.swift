import OrderdSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An OS thread of our own that runs the jobs of the executor's worker Tasks that prefer it
/// (`Task(executorPreference:)`).
///
/// Why: a worker parked on a continuation and resumed from the cooperative pool costs a re-enqueue on the pool and,
/// when its threads sleep, a wake-up of one of them: tens of µs at p99 on a loaded 2-core machine. Here the thread
/// blocks on a condition of its own while its worker is parked, so resuming the worker is one append under a
/// private lock and one futex wake, straight to the thread that runs it. Handlers still `await` as usual: their
/// continuations come back to this thread's queue.
///
/// The thread ends once every worker Task it was lent to has returned (`release`) and its queue is empty. A job
/// enqueued after that (a Task created inside a handler that inherited the preference and outlived its worker) goes
/// to the global concurrent executor instead.
// Invariant: `jobs`, `users`, `sleeping` and `exited` are touched only with `mutex` held; `owner` is set in `init`
// and then touched only by the thread itself.
final class WorkerThread: TaskExecutor, @unchecked Sendable {
    private let mutex = PThreadMutex()
    private var jobs: [UnownedJob] = []
    /// Worker Tasks that may still enqueue here; the thread ends when it reaches 0 with nothing queued.
    private var users = 1
    private var sleeping = false
    private var exited = false
    /// Told when the thread starts and stops running jobs. Taken by the thread when it starts, so the executor
    /// lives while the thread does and no cycle is left once it ended (the executor holds its threads).
    private var owner: BoundedExecutor?

    /// Starts the thread, lent to one worker Task. Nil when the system refuses a thread.
    init?(owner: BoundedExecutor) {
        self.owner = owner
        jobs.reserveCapacity(4)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        // Detached: nobody joins it; it ends by itself once its workers have returned.
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        // The thread holds the executor until it ends (Tasks that prefer it hold it too).
        let retained = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(
            &thread, &attributes,
            { raw in
                Unmanaged<WorkerThread>.fromOpaque(raw!).takeRetainedValue().loop()
                return nil
            }, retained)
        guard status == 0 else {
            Unmanaged<WorkerThread>.fromOpaque(retained).release()
            return nil
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        mutex.lock()
        if exited {
            mutex.unlock()
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
            return
        }
        jobs.append(job)
        let wake = sleeping
        mutex.unlock()
        if wake { mutex.signal() }
    }

    /// Lends the thread to one more worker Task (a replacement for one that left). False when it already ended.
    func retain() -> Bool {
        mutex.withLock {
            guard !exited else { return false }
            users += 1
            return true
        }
    }

    /// A worker Task lent this thread returns.
    func release() {
        let wake = mutex.withLock {
            users -= 1
            return users == 0 && sleeping
        }
        if wake { mutex.signal() }
    }

    private func loop() {
        let owner = self.owner.take()!
        let executor = asUnownedTaskExecutor()
        mutex.lock()
        while true {
            if !jobs.isEmpty {
                let job = jobs.removeFirst()
                mutex.unlock()
                owner.threadBusy()
                job.runSynchronously(on: executor)
                owner.threadIdle()
                mutex.lock()
            } else if users == 0 {
                exited = true
                mutex.unlock()
                return
            } else {
                sleeping = true
                mutex.wait()
                sleeping = false
            }
        }
    }
}
