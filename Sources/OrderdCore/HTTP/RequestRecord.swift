/// Where a request's time went, filled in on its request thread as it goes (a reference, so the handler can
/// add its phases to what the edge measures).
public final class RequestTimings: @unchecked Sendable {
    // @unchecked Sendable: written and read only by the one request thread that handles the request.
    /// Reading the body from libfcgi.
    public var read: Duration = .zero
    /// Parsing and validating the body.
    public var validate: Duration = .zero
    /// Waiting for the store (the group commit).
    public var commit: Duration = .zero
    /// Writing the answer to libfcgi.
    public var respond: Duration = .zero

    public init() {}
}

/// One finished request, as observers (metrics, the slow-request log) see it.
public struct RequestRecord: Sendable {
    public var method: String
    /// The route's pattern (`/orders/{id}`), or `unmatched` for 404s, so labels stay few.
    public var route: String
    public var status: Int
    public var duration: Duration
    public var bytes: Int
    public var requestID: String
    public var timings: RequestTimings
}

/// Gets every finished request, on its request thread, after the answer was written. Must be quick.
public protocol RequestObserver: Sendable {
    func requestFinished(_ record: RequestRecord)
}
