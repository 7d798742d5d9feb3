import Logging
import OrderdFastCGI
import OrderdSupport
import Synchronization

/// The HTTP edge on a request thread: copies the request out of libfcgi, routes it, reads and checks the body,
/// runs the handler, turns any error into its response, writes the answer and logs one line.
package final class HTTPEdge: FastCGIResponder {
    private let router: Router
    private let maxBodyBytesSetting: Reloadable<Int>
    private let logRequestsSetting: Reloadable<Bool>
    private let logger: Logger
    private let observers: [any RequestObserver]
    private let keyring: APIKeyring

    package init(
        router: Router, keyring: APIKeyring, maxBodyBytes: Int, logRequests: Bool = true, logger: Logger,
        observers: [any RequestObserver] = []
    ) {
        self.router = router
        self.logRequestsSetting = Reloadable(logRequests)
        self.keyring = keyring
        self.maxBodyBytesSetting = Reloadable(maxBodyBytes)
        self.logger = logger
        self.observers = observers
    }

    /// `server.max_body_bytes`; a reload changes it for requests that start afterwards.
    package var maxBodyBytes: Int {
        get { maxBodyBytesSetting.value }
        set { maxBodyBytesSetting.value = newValue }
    }

    /// `log.requests`; a reload changes it.
    package var logRequests: Bool {
        get { logRequestsSetting.value }
        set { logRequestsSetting.value = newValue }
    }

    package func respond(to exchange: borrowing FastCGIExchange, readDeadline: ContinuousClock.Instant) -> (@Sendable () -> Void)? {
        answer(exchange, readDeadline: readDeadline)
    }

    /// The same through any exchange, e.g. a recording fake in the unit tests.
    package func respond<Exchange: RequestExchange & ~Copyable>(
        to exchange: borrowing Exchange, readDeadline: ContinuousClock.Instant
    ) -> (@Sendable () -> Void)? {
        answer(exchange, readDeadline: readDeadline)
    }

    /// Generic rather than over `any RequestExchange`: the libfcgi path above gets a copy specialised for
    /// `FastCGIExchange`, dispatched statically. (A separate name, so the non-generic `respond` cannot call
    /// itself by overload resolution.)
    private func answer<Exchange: RequestExchange & ~Copyable>(
        _ exchange: borrowing Exchange, readDeadline: ContinuousClock.Instant
    ) -> (@Sendable () -> Void)? {
        let start = ContinuousClock.now
        var request = Self.request(from: exchange, deadline: readDeadline)
        var bodyConsumed = false
        var response: HTTPResponse
        var routeLabel = "unmatched"
        do throws(any Error) {
            let route = try router.route(method: request.method, path: request.path)
            routeLabel = route.pattern.label
            // Before the body is read: a client without a key costs a header parse, not a body upload.
            if let scope = route.scope {
                let key = try keyring.authorize(request.authorization, for: scope)
                request.apiKeyID = key.id
                if route.countsAsOrder { try keyring.admitOrder(for: key) }
            }
            var body: [UInt8] = []
            if route.takesBody {
                let readStart = ContinuousClock.now
                body = try readBody(exchange, request)
                request.timings.read = ContinuousClock.now - readStart
                bodyConsumed = true
            }
            // The body is read: the request can be answered from another thread, and this one go on to the next.
            if let later = route.later, let handle = exchange.handOver() {
                let reply = answerLater(handle, request: request, routeLabel: routeLabel, start: start)
                do {
                    try later(request, body, reply)
                } catch {
                    reply(.failure(error))
                }
                return nil
            }
            response = try route.handler(request, body)
        } catch {
            response = HTTPErrorMapper.response(for: error, requestID: request.requestID, logger: logger)
        }
        if !bodyConsumed { drainOrClose(exchange) }
        let wire = self.wire(for: &response, request)
        let writeStart = ContinuousClock.now
        let delivered = exchange.write(wire)
        answered(request, response, routeLabel: routeLabel, start: start, writeStart: writeStart, delivered: delivered)
        // The order is committed whether or not the client still listens: its follow-ups run either way.
        return response.afterResponse
    }

    /// What a handed-over request's route replies with: the same answer as `answer` gives, written on the replying
    /// thread; then the request is finished there, and the response's `afterResponse` runs.
    private func answerLater(
        _ handle: HandedOverRequest, request: HTTPRequest, routeLabel: String, start: ContinuousClock.Instant
    ) -> @Sendable (Result<HTTPResponse, any Error>) -> Void {
        { [self] result in
            var response: HTTPResponse
            switch result {
            case .success(let answer): response = answer
            case .failure(let error): response = HTTPErrorMapper.response(for: error, requestID: request.requestID, logger: logger)
            }
            let wire = self.wire(for: &response, request)
            let writeStart = ContinuousClock.now
            let delivered = handle.write(wire)
            answered(request, response, routeLabel: routeLabel, start: start, writeStart: writeStart, delivered: delivered)
            handle.finish(then: response.afterResponse)
        }
    }

    /// The response's bytes, with the headers every answer gets.
    private func wire(for response: inout HTTPResponse, _ request: HTTPRequest) -> [UInt8] {
        // For nginx's access log (`$upstream_http_x_orderd_key`); nginx hides it from the client.
        if let keyID = request.apiKeyID { response.headers.append(("X-Orderd-Key", keyID)) }
        var wire = response.serialized(requestID: request.requestID)
        if request.method == "HEAD" { wire.removeLast(response.body.count) }
        return wire
    }

    /// After the answer was written: its timing, its log line, its observers.
    private func answered(
        _ request: HTTPRequest, _ response: HTTPResponse, routeLabel: String, start: ContinuousClock.Instant,
        writeStart: ContinuousClock.Instant, delivered: Bool
    ) {
        let end = ContinuousClock.now
        request.timings.respond = end - writeStart
        let elapsed = end - start
        if logRequests { logRequest(request, response, elapsed: elapsed, delivered: delivered) }
        if !observers.isEmpty {
            let record = RequestRecord(
                method: request.method, route: routeLabel, status: response.status, duration: elapsed,
                bytes: response.body.count, requestID: request.requestID, timings: request.timings)
            for observer in observers { observer.requestFinished(record) }
        }
    }

    private func logRequest(_ request: HTTPRequest, _ response: HTTPResponse, elapsed: Duration, delivered: Bool) {
        logger.info("request", metadata: {
            var metadata: Logger.Metadata = [
                "method": .string(request.method),
                "path": .string(request.path),
                "status": .string(String(response.status)),
                "duration_ms": .string(elapsed.millisecondsText),
                "bytes": .string(String(response.body.count)),
                "request_id": .string(request.requestID),
            ]
            if let keyID = request.apiKeyID { metadata["key"] = .string(keyID) }
            if !delivered { metadata["client"] = "gone" }
            return metadata
        }())
    }

    private func readBody<Exchange: RequestExchange & ~Copyable>(_ exchange: borrowing Exchange, _ request: HTTPRequest) throws(APIError) -> [UInt8] {
        let length = try RequestBodyRules.expectedLength(for: request, maxBytes: maxBodyBytes)
        // One byte more than declared tells a body longer than its Content-Length from an exact one.
        let body = exchange.readBody(maximum: length + 1)
        if let failure = exchange.bodyError {
            exchange.closeConnectionAfterResponse()
            if failure == .timedOut { throw .requestTimeout() }
            throw .badRequest("The request body could not be read.")
        }
        if body.count < length {
            throw .badRequest("The request body ended after \(body.count) of the \(length) bytes its Content-Length announced.")
        }
        if body.count > length {
            exchange.closeConnectionAfterResponse()
            throw .badRequest("The request body is longer than its Content-Length of \(length) bytes.")
        }
        return Array(body)
    }

    /// A kept-alive connection must be at the end of this request's stdin before the next request is read
    /// from it; a body we chose not to read (an early 4xx) is skipped up to the size limit, else we close.
    private func drainOrClose<Exchange: RequestExchange & ~Copyable>(_ exchange: borrowing Exchange) {
        guard exchange.keepsConnection else { return }
        if !exchange.skipBody(limit: maxBodyBytes) { exchange.closeConnectionAfterResponse() }
    }

    static func request<Exchange: RequestExchange & ~Copyable>(
        from exchange: borrowing Exchange, deadline: ContinuousClock.Instant
    ) -> HTTPRequest {
        let uri = exchange.param("REQUEST_URI") ?? exchange.param("DOCUMENT_URI") ?? "/"
        let (path, query): (String, String)
        if let mark = uri.firstIndex(of: "?") {
            (path, query) = (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
        } else {
            (path, query) = (uri, exchange.param("QUERY_STRING") ?? "")
        }
        let idempotencyKey = exchange.param("HTTP_IDEMPOTENCY_KEY")
        let authorization = exchange.param("HTTP_AUTHORIZATION")
        var request = HTTPRequest(
            method: exchange.param("REQUEST_METHOD") ?? "GET",
            path: path,
            query: query,
            requestID: RequestID.sanitized(exchange.param("REQUEST_ID")),
            contentType: exchange.param("CONTENT_TYPE"),
            contentLength: exchange.param("CONTENT_LENGTH"),
            idempotencyKey: idempotencyKey,
            remoteAddress: exchange.param("REMOTE_ADDR"),
            deadline: deadline
        )
        request.authorization = authorization
        if idempotencyKey != nil { request.repeatedIdempotencyKey = exchange.paramCount("HTTP_IDEMPOTENCY_KEY") > 1 }
        return request
    }
}

/// Request ids: nginx's `$request_id` when it is present and sane, else a fresh random one of the same shape.
enum RequestID {
    static func sanitized(_ candidate: String?) -> String {
        if let candidate, !candidate.isEmpty, candidate.utf8.count <= 64,
            candidate.utf8.allSatisfy({ isSafe($0) })
        {
            return candidate
        }
        return generate()
    }

    /// 32 lower-case hex digits, like nginx's `$request_id`.
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    private static func isSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }
}
