import OrderdHTTP
import Testing

/// Routing without a process: how a method and path find their route, 404 and 405, the `{id}` parameter.
/// The server's own route table is tested in OrderdServerTests (ServerRoutesTests), on the real one.
@Suite struct RouterTests {
    static let orderID = "0193a2b4-7c3d-7e5f-8a1b-2c3d4e5f6a7b"

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
}
