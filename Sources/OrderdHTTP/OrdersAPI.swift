import OrderdFollowUps
import OrderdOrders
import OrderdStore
import OrderdSupport

/// `POST /orders` and `GET /orders/{id}`: the synchronous half of orderd.
package struct OrdersAPI: Sendable {
    package static let collectionPath = "/orders"
    package static let itemPrefix = "/orders/"
    /// Longest `Idempotency-Key` accepted, as in the IETF draft and Stripe's API.
    package static let maxIdempotencyKeyLength = 255

    private let store: any OrderStore
    private let busyTimeout: DurationSetting
    private let followUps: FollowUps?

    /// - Parameters:
    ///   - busyTimeout: `store.busy_timeout`, shared with the reload that may change it.
    ///   - followUps: gets every newly created order once its 201 is finished (not a replay: its tasks were
    ///     handed over the first time).
    package init(store: any OrderStore, busyTimeout: DurationSetting, followUps: FollowUps? = nil) {
        self.store = store
        self.busyTimeout = busyTimeout
        self.followUps = followUps
    }

    package func register(in router: inout Router) {
        router.add(
            "POST", .exact(Self.collectionPath), scope: .ordersWrite, countsAsOrder: true, takesBody: true,
            later: { request, body, reply in try create(request, body: body, reply: reply) }
        ) { request, body in
            try create(request, body: body)
        }
        router.add("GET", .parameter(prefix: Self.itemPrefix), scope: .ordersRead) { request, _ in
            try lookup(id: Router.parameter(of: request.path, after: Self.itemPrefix))
        }
    }

    /// Validates, commits (group commit: returns once the transaction holding it is durable), answers 201.
    /// A replayed idempotency key answers exactly what the first request got, plus `Idempotent-Replayed`.
    func create(_ request: HTTPRequest, body: [UInt8]) throws -> HTTPResponse {
        let write = try validated(request, body: body)
        defer { request.timings.commit = ContinuousClock.now - write.commitStart }
        let outcome = try store.create(
            write.order, idempotency: write.idempotency, deadline: write.deadline, answerBy: request.deadline)
        return created(outcome)
    }

    /// The same without waiting for the commit: `reply` gets the answer from the store's thread (SQLite: the
    /// writer's, right after the commit). What is wrong with the request is thrown here, before anything is queued.
    func create(
        _ request: HTTPRequest, body: [UInt8], reply: @escaping @Sendable (Result<HTTPResponse, any Error>) -> Void
    ) throws {
        let write = try validated(request, body: body)
        store.create(
            write.order, idempotency: write.idempotency, deadline: write.deadline, answerBy: request.deadline
        ) { [self] result in
            request.timings.commit = ContinuousClock.now - write.commitStart
            reply(result.map(created).mapError { $0 })
        }
    }

    /// The order of a `POST /orders`, checked, with what the store needs to write it. The busy timeout bounds the
    /// wait for the store to take the order up (`deadline`); the request's own deadline bounds the wait for an
    /// outcome that was sent and may not come back (PostgreSQL).
    private func validated(_ request: HTTPRequest, body: [UInt8]) throws -> (
        order: NewOrder, idempotency: IdempotencyRequest?, deadline: ContinuousClock.Instant,
        commitStart: ContinuousClock.Instant
    ) {
        guard !request.repeatedIdempotencyKey else {
            throw APIError.badRequest("Idempotency-Key was sent more than once; send it exactly once.")
        }
        let key = try Self.idempotencyKey(request.idempotencyKey)
        let validateStart = ContinuousClock.now
        var order = try OrderValidator.parseAndValidate(body)
        order.createdBy = request.apiKeyID
        let commitStart = ContinuousClock.now
        request.timings.validate = commitStart - validateStart
        let deadline = min(request.deadline, commitStart.advanced(by: busyTimeout.value))
        return (order, key.map { IdempotencyRequest(key: $0, body: body) }, deadline, commitStart)
    }

    /// 201 with the order, and a new order's follow-ups to hand over once the answer is finished; a replay gets the
    /// same answer plus `Idempotent-Replayed` and no follow-ups (they were handed over the first time).
    private func created(_ outcome: CreateOutcome) -> HTTPResponse {
        var headers = [("Location", Self.itemPrefix + outcome.order.id)]
        if case .replayed = outcome { headers.append(("Idempotent-Replayed", "true")) }
        var response = HTTPResponse.json(201, OrderJSON.createdBody(outcome.order), headers: headers)
        if case .created(let order) = outcome, let followUps {
            response.afterResponse = followUps.afterResponse(for: order)
        }
        return response
    }

    func lookup(id: String) throws -> HTTPResponse {
        // Anything that is not a canonical UUID cannot name an order: no need to ask the store.
        guard UUIDv7.isCanonical(id), let order = try store.order(id: id) else {
            throw APIError.notFound("No order with id '\(id.prefix(64))'.")
        }
        return .json(200, OrderJSON.fullBody(order))
    }

    static func idempotencyKey(_ raw: String?) throws(APIError) -> String? {
        guard let raw else { return nil }
        guard !raw.isEmpty, raw.utf8.count <= maxIdempotencyKeyLength else {
            throw .badRequest("Idempotency-Key must be 1 to \(maxIdempotencyKeyLength) characters long.")
        }
        guard raw.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw .badRequest("Idempotency-Key may only hold visible ASCII characters.")
        }
        return raw
    }
}
