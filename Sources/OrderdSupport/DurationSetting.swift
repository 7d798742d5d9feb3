import Synchronization

/// A duration read on every request and changed in place by a reload, without a lock.
package final class DurationSetting: Sendable {
    private let nanos: Atomic<Int64>

    package init(_ value: Duration) {
        nanos = Atomic(value.nanos)
    }

    package var value: Duration {
        get { .nanoseconds(nanos.load(ordering: .relaxed)) }
        set { nanos.store(newValue.nanos, ordering: .relaxed) }
    }
}
