/// What the HTTP edge needs from one FastCGI request: its params, its body, and a place for the answer.
///
/// `FastCGIExchange` is the one over libfcgi; tests use a fake that records what was written. The edge is
/// generic over this protocol (not an existential), so the libfcgi path is specialised and dispatched
/// statically. The requirements are not `mutating`: an exchange is a handle on a request owned elsewhere
/// (libfcgi's `FCGX_Request`), which is how the request thread can lend it out `borrowing`.
package protocol RequestExchange: ~Copyable {
    /// The value of a FastCGI param (`REQUEST_METHOD`, `HTTP_IDEMPOTENCY_KEY`, …): the first when repeated.
    func param(_ name: String) -> String?
    /// How many times the param appears (a repeated request header arrives as repeated params).
    func paramCount(_ name: String) -> Int
    /// Reads up to `maximum` bytes of the request body; fewer means the body ended (or failed: see `bodyError`).
    func readBody(maximum: Int) -> [UInt8]
    /// Reads and discards the rest of the body; false when more than `limit` bytes remained or reading failed.
    func skipBody(limit: Int) -> Bool
    /// Whether the web server asked to keep the connection open after this request.
    var keepsConnection: Bool { get }
    /// Why the body stopped early: `nil` when it simply ended.
    var bodyError: BodyReadFailure? { get }
    /// Writes bytes to the response stream; false when the peer is gone.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool
    /// Closes the connection after this request instead of keeping it for the next one.
    func closeConnectionAfterResponse()
    /// Hands the request over to be answered later by another thread, or nil when this exchange cannot (the
    /// caller then answers it here).
    func handOver() -> HandedOverRequest?
}

extension RequestExchange where Self: ~Copyable {
    package func handOver() -> HandedOverRequest? { nil }
}

extension FastCGIExchange: RequestExchange {}
