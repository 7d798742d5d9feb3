import OrderdSupport
import Synchronization

/// Where a request's time went, filled in on its request thread as it goes (a reference, so the handler can
/// add its phases to what the edge measures). Atomics only to be checked `Sendable`: one thread writes and reads
/// them, and a relaxed load or store costs what a plain one does.
package final class RequestTimings: Sendable {
    private let readNanos = Atomic<Int64>(0)
    private let validateNanos = Atomic<Int64>(0)
    private let commitNanos = Atomic<Int64>(0)
    private let respondNanos = Atomic<Int64>(0)

    /// Reading the body from libfcgi.
    package var read: Duration {
        get { .nanoseconds(readNanos.load(ordering: .relaxed)) }
        set { readNanos.store(newValue.nanos, ordering: .relaxed) }
    }
    /// Parsing and validating the body.
    package var validate: Duration {
        get { .nanoseconds(validateNanos.load(ordering: .relaxed)) }
        set { validateNanos.store(newValue.nanos, ordering: .relaxed) }
    }
    /// Waiting for the store (the group commit).
    package var commit: Duration {
        get { .nanoseconds(commitNanos.load(ordering: .relaxed)) }
        set { commitNanos.store(newValue.nanos, ordering: .relaxed) }
    }
    /// Writing the answer to libfcgi.
    package var respond: Duration {
        get { .nanoseconds(respondNanos.load(ordering: .relaxed)) }
        set { respondNanos.store(newValue.nanos, ordering: .relaxed) }
    }

    package init() {}
}

/// One finished request, as observers (metrics, the slow-request log) see it.
package struct RequestRecord: Sendable {
    package var method: String
    /// The route's pattern (`/orders/{id}`), or `unmatched` for 404s, so labels stay few.
    package var route: String
    package var status: Int
    package var duration: Duration
    package var bytes: Int
    package var requestID: String
    package var timings: RequestTimings
}

/// Gets every finished request, on its request thread, after the answer was written. Must be quick.
package protocol RequestObserver: Sendable {
    func requestFinished(_ record: RequestRecord)
}
