import OrderdHTTP
import OrderdOrders
import OrderdStore
import OrderdSupport
import Testing

/// Routing without a process: which route a method and path reach, the scope each needs, 404 and 405.
@Suite struct RouterTests {
    /// The route table `OrderdService.router` registers (Sources/OrderdServer/OrderdService+Build.swift), which
    /// this target cannot import: the same methods, patterns and scopes, with the real `OrdersAPI` registration
    /// and stub handlers for the server-level pages. A route added there belongs here too.
    static func serverRouter() -> Router {
        var router = Router()
        router.add("GET", .exact("/healthz"), scope: nil) { _, _ in .json(200, Array("healthz".utf8)) }
        router.add("GET", .exact("/readyz"), scope: nil) { _, _ in .json(200, Array("readyz".utf8)) }
        OrdersAPI(store: NoOrders(), busyTimeout: DurationSetting(.seconds(1))).register(in: &router)
        router.add("GET", .exact("/stats"), scope: .admin) { _, _ in .json(200, Array("stats".utf8)) }
        router.add("GET", .exact("/status"), scope: .admin) { _, _ in .json(200, Array("status".utf8)) }
        router.add("GET", .exact("/metrics"), scope: .admin) { _, _ in .json(200, Array("metrics".utf8)) }
        return router
    }

    /// A store with no orders: lookups find nothing; routing tests never create one.
    final class NoOrders: OrderStore {
        func create(_ order: NewOrder, idempotency: IdempotencyRequest?, deadline: ContinuousClock.Instant) throws(StoreError) -> CreateOutcome {
            fatalError("routing tests never create an order")
        }
        func order(id: String) throws(StoreError) -> StoredOrder? { nil }
        var queuedWrites: Int? { nil }
        func close() {}
    }

    static let orderID = "0193a2b4-7c3d-7e5f-8a1b-2c3d4e5f6a7b"

    /// Every route the server registers: its pattern label (the metrics label), the scope it needs, whether it
    /// takes a body and spends an order token.
    @Test(arguments: [
        ("GET", "/healthz", "/healthz", nil, false, false),
        ("GET", "/readyz", "/readyz", nil, false, false),
        ("POST", "/orders", "/orders", Scope.ordersWrite, true, true),
        ("GET", "/orders/\(orderID)", "/orders/{id}", Scope.ordersRead, false, false),
        ("GET", "/stats", "/stats", Scope.admin, false, false),
        ("GET", "/status", "/status", Scope.admin, false, false),
        ("GET", "/metrics", "/metrics", Scope.admin, false, false),
    ] as [(String, String, String, Scope?, Bool, Bool)])
    func everyServerRouteHasItsScope(_ expected: (String, String, String, Scope?, Bool, Bool)) throws {
        let (method, path, label, scope, takesBody, countsAsOrder) = expected
        let route = try Self.serverRouter().route(method: method, path: path)
        #expect(route.method == method)
        #expect(route.pattern.label == label)
        #expect(route.scope == scope)
        #expect(route.takesBody == takesBody)
        #expect(route.countsAsOrder == countsAsOrder)
    }

    /// Only `/healthz` and `/readyz` are public: a balancer probes them without a key.
    @Test func onlyTheProbesNeedNoKey() throws {
        let router = Self.serverRouter()
        let paths = ["/healthz", "/readyz", "/orders/\(Self.orderID)", "/stats", "/status", "/metrics"]
        let open = try paths.filter { try router.route(method: "GET", path: $0).scope == nil }
        #expect(open == ["/healthz", "/readyz"])
        #expect(try router.route(method: "POST", path: "/orders").scope != nil)
    }

    /// HEAD reaches the GET route (the edge then drops the body); a route without GET has no HEAD either.
    @Test func headIsServedByTheGetRoute() throws {
        let router = Self.serverRouter()
        for path in ["/healthz", "/orders/\(Self.orderID)", "/metrics"] {
            let head = try router.route(method: "HEAD", path: path)
            let get = try router.route(method: "GET", path: path)
            #expect(head.method == "GET")
            #expect(head.pattern == get.pattern && head.scope == get.scope)
        }
        #expect(throws: APIError.methodNotAllowed("HEAD", path: "/orders", allowed: ["POST"])) {
            try router.route(method: "HEAD", path: "/orders")
        }
    }

    /// A path no route matches is 404, whatever the method; `/orders/{id}` takes exactly one non-empty segment.
    @Test(arguments: ["/", "/nothing", "/orders/", "/orders/a/b", "/orders/\(orderID)/", "/healthz/", "/HEALTHZ", "/ordersX", "/metrics/extra"])
    func anUnknownPathIsNotFound(_ path: String) {
        for method in ["GET", "HEAD", "POST", "DELETE"] {
            #expect(throws: APIError.notFound("No resource at \(path).")) {
                try Self.serverRouter().route(method: method, path: path)
            }
        }
    }

    /// A known path with another method: 405 whose `Allow` lists exactly what the path answers (HEAD wherever
    /// GET is), as the integration table `BadRequestTests` expects through nginx.
    @Test(arguments: [
        ("GET", "/orders", "POST"),
        ("PUT", "/orders", "POST"),
        ("DELETE", "/orders", "POST"),
        ("OPTIONS", "/orders", "POST"),
        ("POST", "/orders/\(orderID)", "GET, HEAD"),
        ("DELETE", "/orders/\(orderID)", "GET, HEAD"),
        ("PATCH", "/orders/\(orderID)", "GET, HEAD"),
        ("POST", "/healthz", "GET, HEAD"),
        ("POST", "/readyz", "GET, HEAD"),
        ("PUT", "/metrics", "GET, HEAD"),
        ("get", "/healthz", "GET, HEAD"),  // methods are case-sensitive (RFC 9110 §9.1)
    ] as [(String, String, String)])
    func aWrongMethodIsNotAllowedWithAllow(_ expected: (String, String, String)) throws {
        let (method, path, allow) = expected
        var refusal: APIError?
        do { _ = try Self.serverRouter().route(method: method, path: path) } catch { refusal = error }
        let error = try #require(refusal)
        #expect(error.status == 405 && error.code == "method_not_allowed")
        #expect(error.headers.map(\.name) == ["Allow"])
        #expect(error.headers.first?.value == allow)
    }

    /// Two methods on one path: each reaches its own handler, and the 405 names both (plus HEAD for GET).
    @Test func severalMethodsOnOnePathAreAllListed() throws {
        var router = Router()
        router.add("GET", .exact("/things"), scope: .ordersRead) { _, _ in HTTPResponse(status: 200) }
        router.add("POST", .exact("/things"), scope: .ordersWrite, takesBody: true) { _, _ in HTTPResponse(status: 201) }
        router.add("DELETE", .parameter(prefix: "/things/"), scope: .admin) { _, _ in HTTPResponse(status: 204) }
        #expect(try router.route(method: "GET", path: "/things").scope == .ordersRead)
        #expect(try router.route(method: "POST", path: "/things").scope == .ordersWrite)
        #expect(try router.route(method: "DELETE", path: "/things/7").scope == .admin)
        #expect(throws: APIError.methodNotAllowed("PUT", path: "/things", allowed: ["GET", "POST", "HEAD"])) {
            try router.route(method: "PUT", path: "/things")
        }
        var refusal: APIError?
        do { _ = try router.route(method: "GET", path: "/things/7") } catch { refusal = error }
        #expect(refusal?.headers.first?.value == "DELETE")
    }

    /// The handler a route carries is the one registered for it, and the `{id}` segment is what follows the prefix.
    @Test func theMatchedRouteRunsItsHandlerWithTheParameter() throws {
        var router = Router()
        router.add("GET", .parameter(prefix: "/orders/"), scope: nil) { request, _ in
            HTTPResponse(status: 200, body: Array(Router.parameter(of: request.path, after: "/orders/").utf8))
        }
        router.add("GET", .exact("/orders"), scope: nil) { _, _ in HTTPResponse(status: 299) }
        let path = "/orders/\(Self.orderID)"
        let item = try router.route(method: "GET", path: path).handler(HTTPRequest(method: "GET", path: path, requestID: "r"), [])
        #expect(item.status == 200 && item.body == Array(Self.orderID.utf8))
        let list = try router.route(method: "GET", path: "/orders").handler(HTTPRequest(method: "GET", path: "/orders", requestID: "r"), [])
        #expect(list.status == 299)
    }

    /// The real `GET /orders/{id}` handler: an id that cannot name an order is 404 without asking the store.
    @Test func theOrderLookupOfAnUnknownIdIsNotFound() throws {
        let route = try Self.serverRouter().route(method: "GET", path: "/orders/not-an-id")
        #expect(throws: APIError.notFound("No order with id 'not-an-id'.")) {
            try route.handler(HTTPRequest(method: "GET", path: "/orders/not-an-id", requestID: "r"), [])
        }
    }
}
