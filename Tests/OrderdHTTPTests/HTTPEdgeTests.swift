import OrderdFastCGI
import OrderdHTTP
import Testing

// StoreError's constructors are internal to the store; a handler here throws one as a real store would.
@testable import OrderdStore

/// The HTTP edge against a fake exchange: what it writes for each way a request can be refused before, while
/// and after its handler runs. The statuses and error codes are the ones `BadRequestTests` and `EdgeTests`
/// expect end to end through nginx.
@Suite struct HTTPEdgeTests {
    static let (writer, writerSecret) = APIKey.generate(id: "shop", scopes: [.ordersWrite])
    static let (reader, readerSecret) = APIKey.generate(id: "crm", scopes: [.ordersRead])
    static let requestID = "edge-test-request-1"
    static let maxBodyBytes = 64

    /// One route of each kind: a body-taking, order-counting POST (echoes its body), a keyed GET, a public GET,
    /// an admin GET, and a GET whose handler throws what the test gives it.
    final class Routes: Sendable {
        let thrown: (any Error)?
        init(throwing thrown: (any Error)? = nil) { self.thrown = thrown }

        var router: Router {
            var router = Router()
            router.add("POST", .exact("/orders"), scope: .ordersWrite, countsAsOrder: true, takesBody: true) { request, body in
                .json(201, body, headers: [("X-Repeated-Key", "\(request.repeatedIdempotencyKey)")])
            }
            router.add("GET", .parameter(prefix: "/orders/"), scope: .ordersRead) { request, _ in
                .json(200, Array(#"{"id":"\#(Router.parameter(of: request.path, after: "/orders/"))"}"#.utf8))
            }
            router.add("GET", .exact("/healthz"), scope: nil) { _, _ in .json(200, Array(#"{"status":"ok"}"#.utf8)) }
            router.add("GET", .exact("/metrics"), scope: .admin) { _, _ in HTTPResponse(status: 200) }
            let thrown = thrown
            router.add("GET", .exact("/fails"), scope: nil) { _, _ in
                if let thrown { throw thrown }
                return HTTPResponse(status: 200)
            }
            return router
        }
    }

    static func edge(_ routes: Routes = Routes(), ordersPerMinute: Int = 0) -> HTTPEdge {
        HTTPEdge(
            router: routes.router, keyring: APIKeyring(keys: [writer, reader], ordersPerMinute: ordersPerMinute),
            maxBodyBytes: maxBodyBytes, logRequests: false, logger: silentLogger)
    }

    /// The params nginx passes for a request (`nginx/orderd.conf`); `nil` leaves one out.
    static func params(
        _ method: String, _ uri: String, contentType: String? = "application/json", contentLength: String? = nil,
        authorization: String? = nil, extra: [(name: String, value: String)] = []
    ) -> [(name: String, value: String)] {
        var params: [(name: String, value: String)] = [("REQUEST_METHOD", method), ("REQUEST_URI", uri), ("REQUEST_ID", requestID)]
        if let contentType { params.append(("CONTENT_TYPE", contentType)) }
        if let contentLength { params.append(("CONTENT_LENGTH", contentLength)) }
        if let authorization { params.append(("HTTP_AUTHORIZATION", authorization)) }
        return params + extra
    }

    /// A `POST /orders` by the writer key with this body and, unless given, its true Content-Length.
    static func post(_ body: [UInt8], contentLength: String? = nil, contentType: String? = "application/json") -> FakeExchange {
        FakeExchange(
            params("POST", "/orders", contentType: contentType, contentLength: contentLength ?? "\(body.count)",
                authorization: "Bearer \(writerSecret)"),
            body: body)
    }

    /// Writes the answer once, as one block (the headers and body in a single FCGX_PutStr).
    @discardableResult
    static func respond(_ exchange: FakeExchange, edge: HTTPEdge = edge(), readDeadline: ContinuousClock.Instant = .now.advanced(by: .seconds(60))) -> WrittenAnswer {
        _ = edge.respond(to: exchange, readDeadline: readDeadline)
        #expect(exchange.wire.writes == 1)
        return exchange.answer
    }

    @Test func aValidPostReachesItsHandlerWithTheBody() throws {
        let body = Array(#"{"a":1}"#.utf8)
        let exchange = Self.post(body)
        let answer = Self.respond(exchange)
        #expect(answer.status == 201)
        #expect(answer.body == body)
        #expect(answer.header("Content-Type") == "application/json")
        #expect(answer.header("Content-Length") == "\(body.count)")
        #expect(answer.header("X-Request-Id") == Self.requestID)
        // For nginx's access log: the key that was used, never its secret.
        #expect(answer.header("X-Orderd-Key") == "shop")
        #expect(!answer.headers.contains { $0.value.contains(Self.writerSecret) })
        #expect(exchange.wire.offset == body.count && !exchange.wire.closedAfterResponse)
    }

    // MARK: - The body: size, length, media type

    /// Over `server.max_body_bytes`: 413 before a byte is read; the body is too big to skip, so the connection
    /// is closed rather than kept with an unread body in it.
    @Test func aBodyOverTheLimitIs413BeforeReading() throws {
        let exchange = Self.post(Array(repeating: 0x20, count: Self.maxBodyBytes + 1))
        let answer = Self.respond(exchange)
        #expect(answer.status == 413)
        #expect(answer.header("Content-Type") == "application/json")
        let error = try #require(answer.error)
        #expect(error.code == "content_too_large")
        #expect(error.message == "The request body is larger than \(Self.maxBodyBytes) bytes.")
        #expect(error.requestID == Self.requestID)
        #expect(exchange.wire.bodyReads == 0)
        #expect(exchange.wire.closedAfterResponse)
        // Exactly the limit is accepted.
        #expect(Self.respond(Self.post(Array(repeating: 0x20, count: Self.maxBodyBytes))).status == 201)
    }

    /// Each Content-Length the edge refuses, with the status and `error.code` it answers (the body itself is
    /// eight bytes of JSON every time).
    @Test(arguments: [
        (nil, 411, "length_required"),
        ("", 411, "length_required"),
        ("12abc", 400, "bad_request"),
        ("-1", 400, "bad_request"),
        ("+8", 400, "bad_request"),
        (" 8", 400, "bad_request"),
        ("0", 400, "bad_request"),
        ("0000000000000000000", 400, "bad_request"),
        ("99999999999999999999999", 413, "content_too_large"),
        ("65", 413, "content_too_large"),
        ("9", 400, "bad_request"),  // announced more than was sent
        ("7", 400, "bad_request"),  // announced less than was sent
    ] as [(String?, Int, String)])
    func aBadContentLengthIsRefused(_ expected: (String?, Int, String)) throws {
        let (contentLength, status, code) = expected
        let exchange = FakeExchange(
            Self.params("POST", "/orders", contentLength: contentLength, authorization: "Bearer \(Self.writerSecret)"),
            body: Array(#"{"a":12}"#.utf8))
        let answer = Self.respond(exchange)
        #expect(answer.status == status)
        #expect(answer.error?.code == code)
        #expect(answer.header("X-Orderd-Key") == "shop")
    }

    @Test func leadingZerosInContentLengthAreAccepted() {
        #expect(Self.respond(Self.post(Array(#"{"a":12}"#.utf8), contentLength: "0008")).status == 201)
    }

    /// The body ends before its Content-Length: 400 naming both counts; the connection may stay (the stream
    /// is at its end). A longer one: 400, and the connection is closed (the rest of the body is unread).
    @Test func aBodyThatDisagreesWithItsLengthIs400() throws {
        let short = Self.post(Array(#"{"a":12}"#.utf8), contentLength: "9")
        let shortError = try #require(Self.respond(short).error)
        #expect(shortError.message == "The request body ended after 8 of the 9 bytes its Content-Length announced.")
        #expect(!short.wire.closedAfterResponse)

        let long = Self.post(Array(#"{"a":12}"#.utf8), contentLength: "7")
        let longError = try #require(Self.respond(long).error)
        #expect(longError.message == "The request body is longer than its Content-Length of 7 bytes.")
        #expect(long.wire.closedAfterResponse)
    }

    /// A body whose stream broke (the peer went away): 400, and the connection is not reused.
    @Test func aBodyThatCouldNotBeReadIs400AndCloses() throws {
        let exchange = FakeExchange(
            Self.params("POST", "/orders", contentLength: "8", authorization: "Bearer \(Self.writerSecret)"),
            body: Array(#"{"a":12}"#.utf8), readFailure: -1)
        let answer = Self.respond(exchange)
        #expect(answer.status == 400)
        #expect(answer.error?.message == "The request body could not be read.")
        #expect(exchange.wire.closedAfterResponse)
    }

    /// Anything but JSON in UTF-8 is 415, checked before the length (a form post hears "wrong type" first).
    @Test(arguments: [
        nil, "", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1",
        "application/json; charset=utf-16", "application/json-seq", "application/json; utf-8",
    ] as [String?])
    func aWrongContentTypeIs415(_ contentType: String?) throws {
        let exchange = FakeExchange(
            Self.params("POST", "/orders", contentType: contentType, contentLength: "abc", authorization: "Bearer \(Self.writerSecret)"),
            body: Array(#"{"a":12}"#.utf8))
        let answer = Self.respond(exchange)
        #expect(answer.status == 415)
        let error = try #require(answer.error)
        #expect(error.code == "unsupported_media_type")
        #expect(error.message.hasPrefix("Content-Type must be application/json; got "))
        #expect(exchange.wire.bodyReads == 0)
    }

    @Test(arguments: ["application/json", "application/json; charset=utf-8", "Application/JSON; Charset=\"UTF-8\"", "application/json;charset=utf8"])
    func jsonInUTF8IsAccepted(_ contentType: String) {
        #expect(Self.respond(Self.post(Array(#"{"a":12}"#.utf8), contentType: contentType)).status == 201)
    }

    // MARK: - Deadlines

    /// A request whose read deadline has already passed: the watchdog cut the read side, so the body read
    /// fails as timed out: 408, the handler never runs, and the connection is closed.
    @Test func aBodyPastItsDeadlineIs408() throws {
        let past = ContinuousClock.now.advanced(by: .seconds(-1))
        let exchange = FakeExchange(
            Self.params("POST", "/orders", contentLength: "8", authorization: "Bearer \(Self.writerSecret)"),
            body: Array(#"{"a":12}"#.utf8), readDeadline: past)
        let answer = Self.respond(exchange, readDeadline: past)
        #expect(answer.status == 408)
        let error = try #require(answer.error)
        #expect(error.code == "request_timeout")
        #expect(error.message == "The request body did not arrive in time.")
        #expect(exchange.wire.closedAfterResponse)
    }

    /// The edge hands the request thread's deadline to the handler as `request.deadline` (the store bounds its
    /// wait by it); it does not refuse a bodiless request on the clock by itself.
    @Test func theHandlerGetsTheRequestsDeadline() {
        let past = ContinuousClock.now.advanced(by: .seconds(-1))
        final class Seen: @unchecked Sendable { var deadline: ContinuousClock.Instant? }  // one thread: the test's
        let seen = Seen()
        var router = Router()
        router.add("GET", .exact("/clock"), scope: nil) { request, _ in
            seen.deadline = request.deadline
            return HTTPResponse(status: 204)
        }
        let edge = HTTPEdge(router: router, keyring: APIKeyring(keys: [], ordersPerMinute: 0), maxBodyBytes: 64, logRequests: false, logger: silentLogger)
        let answer = Self.respond(FakeExchange(Self.params("GET", "/clock"), readDeadline: past), edge: edge, readDeadline: past)
        #expect(answer.status == 204)
        #expect(seen.deadline == past)
    }

    // MARK: - Keys

    /// No key: 401 with a Bearer challenge, before the body is read.
    @Test func noKeyIs401WithAChallenge() throws {
        let exchange = FakeExchange(Self.params("POST", "/orders", contentLength: "8"), body: Array(#"{"a":12}"#.utf8))
        let answer = Self.respond(exchange)
        #expect(answer.status == 401)
        #expect(answer.error?.code == "unauthorized")
        #expect(answer.headers("WWW-Authenticate") == [#"Bearer realm="orderd""#])
        #expect(answer.header("X-Orderd-Key") == nil)
        #expect(exchange.wire.bodyReads == 0)
        // The unread body is skipped so the kept connection is at the next request.
        #expect(exchange.wire.skipCalls == 1 && exchange.wire.offset == 8 && !exchange.wire.closedAfterResponse)
    }

    /// An admin page also offers Basic, so a browser asks for the key.
    @Test func noKeyOnAnAdminPageAlsoOffersBasic() {
        let answer = Self.respond(FakeExchange(Self.params("GET", "/metrics")))
        #expect(answer.status == 401)
        #expect(answer.headers("WWW-Authenticate").count == 2)
        #expect(answer.headers("WWW-Authenticate").last?.hasPrefix("Basic ") == true)
    }

    @Test func anUnknownOrMalformedKeyIs401() {
        let unknown = Self.respond(FakeExchange(Self.params("GET", "/orders/x", authorization: "Bearer od_live_nobody")))
        #expect(unknown.status == 401)
        #expect(unknown.header("WWW-Authenticate") == #"Bearer realm="orderd", error="invalid_token""#)
        let malformed = Self.respond(FakeExchange(Self.params("GET", "/orders/x", authorization: "Token \(Self.readerSecret)")))
        #expect(malformed.status == 401)
        #expect(malformed.header("WWW-Authenticate") == #"Bearer realm="orderd", error="invalid_request""#)
    }

    /// A valid key without the route's scope: 403 naming the key and the missing scope; nothing read.
    @Test func aKeyWithoutTheScopeIs403() throws {
        let exchange = FakeExchange(
            Self.params("POST", "/orders", contentLength: "8", authorization: "Bearer \(Self.readerSecret)"),
            body: Array(#"{"a":12}"#.utf8))
        let answer = Self.respond(exchange)
        #expect(answer.status == 403)
        let error = try #require(answer.error)
        #expect(error.code == "forbidden")
        #expect(error.message == "API key 'crm' lacks the scope 'orders:write' this request needs.")
        #expect(answer.header("WWW-Authenticate") == #"Bearer realm="orderd", error="insufficient_scope", scope="orders:write""#)
        #expect(exchange.wire.bodyReads == 0)
        // The other way round too: the writer may not read.
        #expect(Self.respond(FakeExchange(Self.params("GET", "/orders/x", authorization: "Bearer \(Self.writerSecret)"))).status == 403)
        #expect(Self.respond(FakeExchange(Self.params("GET", "/orders/x", authorization: "Bearer \(Self.readerSecret)"))).status == 200)
    }

    /// A public route answers without a key, and ignores one that would be refused.
    @Test func aPublicRouteNeedsNoKey() {
        #expect(Self.respond(FakeExchange(Self.params("GET", "/healthz"))).status == 200)
        #expect(Self.respond(FakeExchange(Self.params("GET", "/healthz", authorization: "Bearer wrong"))).status == 200)
    }

    /// Order-counting routes take a token per request: over `auth.orders_per_minute`, 429 with Retry-After.
    @Test func ordersOverTheKeysRateAre429() {
        let edge = Self.edge(ordersPerMinute: 1)
        #expect(Self.respond(Self.post(Array(#"{"a":12}"#.utf8)), edge: edge).status == 201)
        let refused = Self.respond(Self.post(Array(#"{"a":12}"#.utf8)), edge: edge)
        #expect(refused.status == 429)
        #expect(refused.error?.code == "rate_limited")
        #expect(refused.header("Retry-After") != nil)
    }

    // MARK: - Routing through the edge

    @Test func anUnknownPathIs404AndAWrongMethod405WithAllow() throws {
        let missing = Self.respond(FakeExchange(Self.params("GET", "/nothing")))
        #expect(missing.status == 404)
        #expect(missing.error?.code == "not_found")
        let wrong = Self.respond(FakeExchange(Self.params("DELETE", "/orders")))
        #expect(wrong.status == 405)
        #expect(wrong.error?.code == "method_not_allowed")
        #expect(wrong.header("Allow") == "POST")
        #expect(Self.respond(FakeExchange(Self.params("POST", "/healthz"))).header("Allow") == "GET, HEAD")
    }

    /// HEAD: the GET answer's status and headers (its Content-Length included), without the body.
    @Test func headAnswersLikeGetWithoutTheBody() {
        let get = Self.respond(FakeExchange(Self.params("GET", "/healthz")))
        let head = Self.respond(FakeExchange(Self.params("HEAD", "/healthz")))
        #expect(get.body == Array(#"{"status":"ok"}"#.utf8))
        #expect(head.status == get.status)
        #expect(head.headers.map(\.name) == get.headers.map(\.name))
        #expect(head.header("Content-Length") == "\(get.body.count)")
        #expect(head.body.isEmpty)
        // An error to a HEAD has no body either.
        let missing = Self.respond(FakeExchange(Self.params("HEAD", "/nothing")))
        #expect(missing.status == 404 && missing.body.isEmpty && missing.header("Content-Length") != "0")
    }

    // MARK: - Errors from handlers

    /// Whatever a handler throws becomes the answer `HTTPErrorMapper` gives for it: status, headers and the
    /// exact JSON body, with the request's id.
    @Test(arguments: [
        APIError.notFound("No order with id 'x'."),
        StoreError.deadlinePassed("test"),
        StoreError.outcomeUnknown("test"),
        UnexpectedError(),
    ] as [any Error])
    func aHandlersErrorIsMappedByTheOneMapper(_ thrown: any Error) {
        let answer = Self.respond(FakeExchange(Self.params("GET", "/fails")), edge: Self.edge(Routes(throwing: thrown)))
        let mapped = HTTPErrorMapper.response(for: thrown, requestID: Self.requestID, logger: silentLogger)
        #expect(answer.status == mapped.status)
        #expect(answer.body == mapped.body)
        for header in mapped.headers { #expect(answer.header(header.name) == header.value) }
    }

    struct UnexpectedError: Error { let path = "/var/lib/orderd/orderd.db" }

    @Test func anUnexpectedErrorIsA500ThatSaysNothingInternal() throws {
        let answer = Self.respond(FakeExchange(Self.params("GET", "/fails")), edge: Self.edge(Routes(throwing: UnexpectedError())))
        #expect(answer.status == 500)
        #expect(answer.error?.code == "internal")
        #expect(!String(decoding: answer.body, as: UTF8.self).contains("orderd.db"))
    }

    // MARK: - What the edge copies from the params

    /// A repeated Idempotency-Key is flagged to the handler (which refuses it); a single one is not.
    @Test func aRepeatedIdempotencyKeyIsFlagged() {
        let once = FakeExchange(
            Self.params("POST", "/orders", contentLength: "8", authorization: "Bearer \(Self.writerSecret)",
                extra: [("HTTP_IDEMPOTENCY_KEY", "a")]),
            body: Array(#"{"a":12}"#.utf8))
        #expect(Self.respond(once).header("X-Repeated-Key") == "false")
        let twice = FakeExchange(
            Self.params("POST", "/orders", contentLength: "8", authorization: "Bearer \(Self.writerSecret)",
                extra: [("HTTP_IDEMPOTENCY_KEY", "a"), ("HTTP_IDEMPOTENCY_KEY", "b")]),
            body: Array(#"{"a":12}"#.utf8))
        #expect(Self.respond(twice).header("X-Repeated-Key") == "true")
    }

    /// The query string is split off the path before routing.
    @Test func theQueryStringIsNotPartOfThePath() {
        let answer = Self.respond(FakeExchange(Self.params("GET", "/orders/abc?fields=id", authorization: "Bearer \(Self.readerSecret)")))
        #expect(answer.body == Array(#"{"id":"abc"}"#.utf8))
    }

    /// nginx's `$request_id` is kept when sane; anything else (here: a header-splitting attempt) is replaced
    /// by a fresh id of the same shape.
    @Test func anUnsafeRequestIdIsReplaced() throws {
        let answer = Self.respond(FakeExchange([("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/nothing"), ("REQUEST_ID", "x\r\nSet-Cookie: a=b")]))
        let id = try #require(answer.header("X-Request-Id"))
        #expect(id.count == 32 && id.allSatisfy { $0.isHexDigit })
        #expect(answer.error?.requestID == id)
        #expect(answer.header("Set-Cookie") == nil)
    }

    /// Observers see one record per request: the route's label (`unmatched` for a 404) and the status.
    @Test func observersSeeTheRouteLabelAndStatus() {
        final class Records: RequestObserver, @unchecked Sendable {  // one thread: the test's
            var seen: [(route: String, status: Int)] = []
            func requestFinished(_ record: RequestRecord) { seen.append((record.route, record.status)) }
        }
        let records = Records()
        let edge = HTTPEdge(
            router: Routes().router, keyring: APIKeyring(keys: [Self.reader], ordersPerMinute: 0), maxBodyBytes: 64,
            logRequests: false, logger: silentLogger, observers: [records])
        Self.respond(FakeExchange(Self.params("GET", "/orders/abc", authorization: "Bearer \(Self.readerSecret)")), edge: edge)
        Self.respond(FakeExchange(Self.params("GET", "/nothing")), edge: edge)
        #expect(records.seen.map(\.route) == ["/orders/{id}", "unmatched"])
        #expect(records.seen.map(\.status) == [200, 404])
    }
}
