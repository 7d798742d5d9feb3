import OrderdSupport

/// Where a request's time went, filled in on its request thread as it goes (a reference, so the handler can
/// add its phases to what the edge measures).
package final class RequestTimings: @unchecked Sendable {
    // @unchecked Sendable: written and read only by the one request thread that handles the request.
    /// Reading the body from libfcgi.
    package var read: Duration = .zero
    /// Parsing and validating the body.
    package var validate: Duration = .zero
    /// Waiting for the store (the group commit).
    package var commit: Duration = .zero
    /// Writing the answer to libfcgi.
    package var respond: Duration = .zero

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
