import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A setting that a reload (SIGHUP) changes in place while request threads keep reading it: read on every use,
/// written rarely. A `Reloadable` of a `ReloadableScalar` (`Int`, `Bool`, `Duration`) is read with one relaxed
/// atomic load; any other value behind a read-write lock, held only to copy it.
///
/// Relaxed is enough: a reload promises only that requests starting after it see the new value, never an order
/// between two settings.
///
/// Why a `pthread_rwlock_t` and not `Synchronization.Mutex`: readers never wait for each other. Sixteen request
/// threads on two cores read the follow-up settings and the executor on every order; behind a mutex, a reader
/// preempted while holding it sent the others into the kernel (`futex_lock_pi`), seen in perf as the top
/// user-space symbol of the request threads. The lock prefers a waiting writer, so a reload is never starved.
// Invariant: `value` is only read with the lock held for reading and only written with it held for writing.
package final class Reloadable<Value: Sendable>: @unchecked Sendable {
    /// Set for scalars: the value lives in `bits`, and `stored` keeps only the initial one.
    private let scalar: (encode: @Sendable (Value) -> Int64, decode: @Sendable (Int64) -> Value)?
    private let bits: Atomic<Int64>
    // Heap-allocated so they never move; they live exactly as long as this object.
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    private let stored: UnsafeMutablePointer<Value>

    package init(_ value: Value) {
        scalar = nil
        bits = Atomic(0)
        (lock, stored) = Self.allocate(value)
    }

    package init(_ value: Value) where Value: ReloadableScalar {
        scalar = ({ $0.reloadableBits }, { Value(reloadableBits: $0) })
        bits = Atomic(value.reloadableBits)
        (lock, stored) = Self.allocate(value)
    }

    private static func allocate(_ value: Value) -> (UnsafeMutablePointer<pthread_rwlock_t>, UnsafeMutablePointer<Value>) {
        let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
        let stored = UnsafeMutablePointer<Value>.allocate(capacity: 1)
        stored.initialize(to: value)
        return (lock, stored)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
        stored.deinitialize(count: 1)
        stored.deallocate()
    }

    package var value: Value {
        get {
            if let scalar { return scalar.decode(bits.load(ordering: .relaxed)) }
            pthread_rwlock_rdlock(lock)
            defer { pthread_rwlock_unlock(lock) }
            return stored.pointee
        }
        set {
            if let scalar {
                bits.store(scalar.encode(newValue), ordering: .relaxed)
            } else {
                pthread_rwlock_wrlock(lock)
                defer { pthread_rwlock_unlock(lock) }
                stored.pointee = newValue
            }
        }
    }
}

/// A value that round-trips through 64 bits, so a `Reloadable` of it needs no lock.
package protocol ReloadableScalar: Sendable {
    init(reloadableBits: Int64)
    var reloadableBits: Int64 { get }
}

extension Int: ReloadableScalar {
    package init(reloadableBits: Int64) { self = Int(truncatingIfNeeded: reloadableBits) }
    package var reloadableBits: Int64 { Int64(truncatingIfNeeded: self) }
}

extension Bool: ReloadableScalar {
    package init(reloadableBits: Int64) { self = reloadableBits != 0 }
    package var reloadableBits: Int64 { self ? 1 : 0 }
}

/// Whole nanoseconds, as `Duration.nanos` (saturating).
extension Duration: ReloadableScalar {
    package init(reloadableBits: Int64) { self = .nanoseconds(reloadableBits) }
    package var reloadableBits: Int64 { nanos }
}
