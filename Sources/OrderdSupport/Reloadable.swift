import Synchronization

/// A setting that a reload (SIGHUP) changes in place while request threads keep reading it: read on every use,
/// written rarely. A `Reloadable` of a `ReloadableScalar` (`Int`, `Bool`, `Duration`) is read with one relaxed
/// atomic load; any other value behind a `Mutex`, held only to copy it.
///
/// Relaxed is enough: a reload promises only that requests starting after it see the new value, never an order
/// between two settings.
package final class Reloadable<Value: Sendable>: Sendable {
    /// Set for scalars: the value lives in `bits`, and `locked` keeps only the initial one.
    private let scalar: (encode: @Sendable (Value) -> Int64, decode: @Sendable (Int64) -> Value)?
    private let bits: Atomic<Int64>
    private let locked: Mutex<Value>

    package init(_ value: Value) {
        scalar = nil
        bits = Atomic(0)
        locked = Mutex(value)
    }

    package init(_ value: Value) where Value: ReloadableScalar {
        scalar = ({ $0.reloadableBits }, { Value(reloadableBits: $0) })
        bits = Atomic(value.reloadableBits)
        locked = Mutex(value)
    }

    package var value: Value {
        get {
            if let scalar { return scalar.decode(bits.load(ordering: .relaxed)) }
            return locked.withLock { $0 }
        }
        set {
            if let scalar {
                bits.store(scalar.encode(newValue), ordering: .relaxed)
            } else {
                locked.withLock { $0 = newValue }
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
