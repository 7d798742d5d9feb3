import Foundation
import Logging
import Testing

import OrderdConfig
import OrderdFollowUps
import OrderdHTTP
// @testable: these tests read internals: OrderdServer (openParts, router).
@testable import OrderdServer

/// The server's real route table (`OrderdService.router`): which route each method and path reach, the scope each
/// needs, 404 and 405 with their `Allow`.
@Suite struct ServerRoutesTests {
    /// The router over parts opened in a directory of its own (the store and the audit file, never started);
    /// closed once the test's suite instance goes.
    final class Server {
        let router: Router
        private let parts: OrderdService.Parts
        private let directory: String

        init() throws {
            directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("orderd-routes-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var configuration = OrderdConfiguration()
            configuration.store.path = directory + "/orderd.db"
            configuration.audit.path = directory + "/audit.log"
            let logger = Logger(label: "test")
            parts = try OrderdService.openParts(
                configuration, credentials: OutgoingCredentials(), path: directory + "/orderd.ini", logger: logger)
            router = OrderdService.router(
                parts, configuration: configuration, logger: logger,
                metrics: .live(followUps: parts.followUps, store: parts.store, auditLog: parts.auditLog, logger: logger))
        }

        deinit {
            for poster in parts.posters { poster.shutdown() }
            parts.auditLog.close()
            parts.store.close()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    let server: Server

    init() throws {
        server = try Server()
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
        let route = try server.router.route(method: method, path: path)
        #expect(route.method == method)
        #expect(route.pattern.label == label)
        #expect(route.scope == scope)
        #expect(route.takesBody == takesBody)
        #expect(route.countsAsOrder == countsAsOrder)
    }

    /// Only `/healthz` and `/readyz` are public: a balancer probes them without a key.
    @Test func onlyTheProbesNeedNoKey() throws {
        let router = server.router
        let paths = ["/healthz", "/readyz", "/orders/\(Self.orderID)", "/stats", "/status", "/metrics"]
        let open = try paths.filter { try router.route(method: "GET", path: $0).scope == nil }
        #expect(open == ["/healthz", "/readyz"])
        #expect(try router.route(method: "POST", path: "/orders").scope != nil)
    }

    /// HEAD reaches the GET route (the edge then drops the body); a route without GET has no HEAD either.
    @Test func headIsServedByTheGetRoute() throws {
        let router = server.router
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
                try server.router.route(method: method, path: path)
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
        do { _ = try server.router.route(method: method, path: path) } catch { refusal = error }
        let error = try #require(refusal)
        #expect(error.status == 405 && error.code == "method_not_allowed")
        #expect(error.headers.map(\.name) == ["Allow"])
        #expect(error.headers.first?.value == allow)
    }

    /// The real `GET /orders/{id}` handler: an id that cannot name an order is 404 without asking the store.
    @Test func theOrderLookupOfAnUnknownIdIsNotFound() throws {
        let route = try server.router.route(method: "GET", path: "/orders/not-an-id")
        #expect(throws: APIError.notFound("No order with id 'not-an-id'.")) {
            try route.handler(HTTPRequest(method: "GET", path: "/orders/not-an-id", requestID: "r"), [])
        }
    }
}
