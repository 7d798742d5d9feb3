#if canImport(Glibc)
import Glibc
#endif

/// A plain `pthread_mutex_t` with a condition variable, heap-allocated so it never moves.
///
/// Why not `Synchronization.Mutex`: on Linux it is a priority-inheriting futex that queues badly under
/// contention (measured here: 12.4k vs 44.6k SQLite inserts/s behind one lock). The locks on
/// the request path (accept hand-off, group commit) are hot and contended, and they need a condition variable.
// Invariant: the mutex and condition are only touched through pthread calls, which are thread-safe.
package final class PThreadMutex: @unchecked Sendable {
    // The pointers live exactly as long as this object.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    /// - Parameter adaptive: a mutex of glibc's adaptive kind, which spins briefly before sleeping in the kernel:
    ///   for critical sections a few dozen nanoseconds long taken once per task by two threads (the executor's
    ///   queue), where a short spin almost always beats a round trip through `futex`. Measured with
    ///   `executor-bench` on 2 cores, 5 alternating pairs of runs: 1.28–1.72M no-op tasks/s against 1.16–1.55M.
    package init(adaptive: Bool = false) {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthreadInit(mutex, condition, adaptive: adaptive)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    package func lock() { pthread_mutex_lock(mutex) }
    package func unlock() { pthread_mutex_unlock(mutex) }

    /// Runs `body` with the mutex held.
    @inline(__always)
    package func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits on the condition; the mutex must be held. Returns false when `deadline` passed.
    @discardableResult
    package func wait(until deadline: ContinuousClock.Instant? = nil) -> Bool {
        pthreadWait(condition, mutex, until: deadline)
    }

    package func signal() { pthread_cond_signal(condition) }
    package func broadcast() { pthread_cond_broadcast(condition) }
}

/// Waits on `condition` (a CLOCK_MONOTONIC one) with `mutex` held, until `deadline` (nil: none). Returns false
/// when the deadline passed. Shared by `PThreadMutex` and `PThreadLocked`.
package func pthreadWait(
    _ condition: UnsafeMutablePointer<pthread_cond_t>, _ mutex: UnsafeMutablePointer<pthread_mutex_t>,
    until deadline: ContinuousClock.Instant?
) -> Bool {
    guard let deadline else {
        pthread_cond_wait(condition, mutex)
        return true
    }
    let remaining = ContinuousClock.now.duration(to: deadline)
    if remaining <= .zero { return false }
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    let (seconds, attoseconds) = remaining.components
    var nanos = Int(now.tv_nsec) + Int(attoseconds / 1_000_000_000)
    var secs = Int(now.tv_sec) + Int(clamping: seconds)
    if nanos >= 1_000_000_000 {
        secs += 1
        nanos -= 1_000_000_000
    }
    var until = timespec(tv_sec: secs, tv_nsec: nanos)
    return pthread_cond_timedwait(condition, mutex, &until) != ETIMEDOUT
}

/// Initializes a mutex (adaptive: see `PThreadMutex.init(adaptive:)`) and a CLOCK_MONOTONIC condition in place.
/// Shared by `PThreadMutex` and `PThreadLocked`.
package func pthreadInit(
    _ mutex: UnsafeMutablePointer<pthread_mutex_t>, _ condition: UnsafeMutablePointer<pthread_cond_t>, adaptive: Bool
) {
    var mutexAttributes = pthread_mutexattr_t()
    pthread_mutexattr_init(&mutexAttributes)
    if adaptive { pthread_mutexattr_settype(&mutexAttributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP)) }
    pthread_mutex_init(mutex, &mutexAttributes)
    pthread_mutexattr_destroy(&mutexAttributes)
    var attributes = pthread_condattr_t()
    pthread_condattr_init(&attributes)
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
    pthread_cond_init(condition, &attributes)
    pthread_condattr_destroy(&attributes)
}
