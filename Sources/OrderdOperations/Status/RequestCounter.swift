import OrderdHTTP
import OrderdSupport
import Synchronization

/// Counts finished requests for `/status`: a `RequestObserver` on every request thread, so only relaxed atomic
/// adds (no lock on the request path).
///
/// `ordersCreated` counts the 201 answers to `POST /orders`. A replayed `Idempotency-Key` also answers 201
/// (the record does not say it was a replay), so a client that retries after a lost answer counts twice.
package final class RequestCounter: RequestObserver {
    private let finished = Atomic<Int>(0)
    private let clientErrors = Atomic<Int>(0)
    private let serverErrors = Atomic<Int>(0)
    private let created = Atomic<Int>(0)

    package func requestFinished(_ record: RequestRecord) {
        finished.wrappingAdd(1, ordering: .relaxed)
        switch record.status {
        case 500...: serverErrors.wrappingAdd(1, ordering: .relaxed)
        case 400..<500: clientErrors.wrappingAdd(1, ordering: .relaxed)
        case 201 where record.method == "POST" && record.route == OrdersAPI.collectionPath:
            created.wrappingAdd(1, ordering: .relaxed)
        default: break
        }
    }

    /// Orders answered 201 since start.
    var ordersCreated: Int { created.load(ordering: .relaxed) }

    /// The counts now (each exact; read one after the other, so not one instant).
    package var counts: RequestCounts {
        RequestCounts(
            finished: finished.load(ordering: .relaxed), clientErrors: clientErrors.load(ordering: .relaxed),
            serverErrors: serverErrors.load(ordering: .relaxed), ordersCreated: created.load(ordering: .relaxed))
    }

    package init() {

    }
}

/// Requests finished since start, as `/status` shows them.
package struct RequestCounts: Sendable, Equatable {
    package var finished = 0
    /// Answers 400–499.
    var clientErrors = 0
    /// Answers 500 and up.
    var serverErrors = 0
    /// 201 answers to `POST /orders`.
    var ordersCreated = 0
}
