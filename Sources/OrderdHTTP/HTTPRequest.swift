import OrderdSupport

/// The parts of a FastCGI request the handlers use, copied out of libfcgi's param block.
package struct HTTPRequest: Sendable {
    package var method: String
    /// The path without the query string, e.g. `/orders/0193…`.
    package var path: String
    package var query: String
    /// nginx's `$request_id` (the `REQUEST_ID` param), or one generated here when absent.
    package var requestID: String
    package var contentType: String?
    /// The raw `CONTENT_LENGTH` param: validated by the body reader, not here.
    package var contentLength: String?
    package var idempotencyKey: String?
    /// True when the client sent `Idempotency-Key` more than once (refused: which one would count?).
    package var repeatedIdempotencyKey: Bool = false
    /// The `Authorization` header, checked by the edge before the handler runs.
    package var authorization: String?
    /// The id of the API key the request was authorized with (logs, the order's `created_by`).
    package var apiKeyID: String?
    /// The client address nginx saw, for logs.
    package var remoteAddress: String?
    /// When the request must be answered by: its start plus `server.request_timeout`.
    package var deadline: ContinuousClock.Instant
    /// Where the time went, for the slow-request log and metrics.
    package var timings = RequestTimings()

    package init(
        method: String, path: String, query: String = "", requestID: String, contentType: String? = nil,
        contentLength: String? = nil, idempotencyKey: String? = nil, remoteAddress: String? = nil,
        deadline: ContinuousClock.Instant = .now.advanced(by: .seconds(30))
    ) {
        self.deadline = deadline
        self.method = method
        self.path = path
        self.query = query
        self.requestID = requestID
        self.contentType = contentType
        self.contentLength = contentLength
        self.idempotencyKey = idempotencyKey
        self.remoteAddress = remoteAddress
    }
}
