import OrderdSupport

/// Maps method and path to a handler. Unknown paths are 404; known paths with another method are 405 with `Allow`.
package struct Router: Sendable {
    /// A handler gets the request and, for routes that take a body, the body bytes already checked against the
    /// Content-Type and size rules. Anything it throws becomes a response in `HTTPErrorMapper`.
    package typealias Handler = @Sendable (HTTPRequest, [UInt8]) throws -> HTTPResponse
    /// The same for an answer that comes later, from another thread: the handler returns at once and `reply` is
    /// called once, with the response or what to map to one. What the handler throws is replied at once.
    package typealias LaterHandler = @Sendable (
        HTTPRequest, [UInt8], _ reply: @escaping @Sendable (Result<HTTPResponse, any Error>) -> Void
    ) throws -> Void

    package enum Pattern: Sendable, Equatable {
        /// Exactly this path.
        case exact(String)
        /// `prefix` followed by one non-empty segment without `/`, e.g. `/orders/{id}`.
        case parameter(prefix: String)

        /// The pattern as a metrics label: `/orders/{id}` for a parameter route.
        package var label: String {
            switch self {
            case .exact(let path): return path
            case .parameter(let prefix): return prefix + "{id}"
            }
        }

        func matches(_ path: String) -> Bool {
            switch self {
            case .exact(let exact): return path == exact
            case .parameter(let prefix):
                guard path.hasPrefix(prefix) else { return false }
                let rest = path.utf8.dropFirst(prefix.utf8.count)
                return !rest.isEmpty && !rest.contains(UInt8(ascii: "/"))
            }
        }
    }

    package struct Route: Sendable {
        package var method: String
        package var pattern: Pattern
        /// The scope an API key needs for this route; nil: no key (`/healthz`).
        package var scope: Scope?
        /// Each request takes one token of its key's order-rate bucket (`auth.orders_per_minute`).
        package var countsAsOrder: Bool
        package var takesBody: Bool
        package var handler: Handler
        /// The route's answer without holding the request thread, where the exchange can hand its request over
        /// (`HTTPEdge`); `handler` answers where it cannot.
        package var later: LaterHandler?
    }

    private var routes: [Route] = []

    package init() {}

    /// `scope` has no default: every route says whether it needs a key, so a new one cannot be public by omission.
    package mutating func add(
        _ method: String, _ pattern: Pattern, scope: Scope?, countsAsOrder: Bool = false, takesBody: Bool = false,
        later: LaterHandler? = nil, _ handler: @escaping Handler
    ) {
        routes.append(Route(
            method: method, pattern: pattern, scope: scope, countsAsOrder: countsAsOrder, takesBody: takesBody,
            handler: handler, later: later))
    }

    /// The route for this request, or the 404/405 it deserves. `HEAD` is served by `GET` routes.
    package func route(method: String, path: String) throws(APIError) -> Route {
        let candidates = routes.filter { $0.pattern.matches(path) }
        guard !candidates.isEmpty else { throw .notFound("No resource at \(path).") }
        let effective = method == "HEAD" ? "GET" : method
        if let route = candidates.first(where: { $0.method == effective }) { return route }
        var allowed = candidates.map(\.method)
        if allowed.contains("GET") { allowed.append("HEAD") }
        throw .methodNotAllowed(method, path: path, allowed: allowed)
    }

    /// The last path segment of a `.parameter` route.
    package static func parameter(of path: String, after prefix: String) -> String {
        String(path.dropFirst(prefix.count))
    }
}
