import OrderdOrders
import OrderdSupport

/// An error that has a defined HTTP answer: status, a stable machine-readable code and a message that is safe
/// to show a client. Built by the HTTP edge (routing, body checks) and by `HTTPErrorMapper` from the typed
/// errors of the other layers.
package struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: String, Sendable {
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case unsupportedMediaType = "unsupported_media_type"
        case contentTooLarge = "content_too_large"
        case lengthRequired = "length_required"
        case badRequest = "bad_request"
        case invalidJSON = "invalid_json"
        case validationFailed = "validation_failed"
        case conflict = "idempotency_conflict"
        case requestTimeout = "request_timeout"
        case unavailable = "unavailable"
        case outcomeUnknown = "outcome_unknown"
        case unauthorized = "unauthorized"
        case forbidden = "forbidden"
        case rateLimited = "rate_limited"
        case `internal` = "internal"
    }

    private let kind: Code
    package let status: Int
    package let message: String
    package var details: [FieldProblem] = []
    /// For `invalid_json`: the byte offset of the first bad byte.
    package var offset: Int?
    package var headers: [(name: String, value: String)] = []

    private init(_ kind: Code, _ status: Int, _ message: String) {
        self.kind = kind
        self.status = status
        self.message = message
    }

    /// The stable code clients switch on, e.g. `validation_failed`.
    package var code: String { kind.rawValue }
    package var description: String { "\(status) \(code): \(message)" }

    package static func == (lhs: APIError, rhs: APIError) -> Bool {
        lhs.kind == rhs.kind && lhs.status == rhs.status && lhs.message == rhs.message && lhs.details == rhs.details
    }

    package static func notFound(_ message: String) -> APIError { APIError(.notFound, 404, message) }

    package static func methodNotAllowed(_ method: String, path: String, allowed: [String]) -> APIError {
        var error = APIError(.methodNotAllowed, 405, "Method \(method) is not allowed on \(path); allowed: \(allowed.joined(separator: ", ")).")
        error.headers = [("Allow", allowed.joined(separator: ", "))]
        return error
    }

    package static func unsupportedMediaType(_ found: String?) -> APIError {
        APIError(.unsupportedMediaType, 415, "Content-Type must be application/json; got \(found.map { "'\($0)'" } ?? "none").")
    }

    package static func contentTooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, 413, "The request body is larger than \(limit) bytes.")
    }

    package static func lengthRequired() -> APIError {
        APIError(.lengthRequired, 411, "A Content-Length header is required.")
    }

    package static func badRequest(_ message: String) -> APIError { APIError(.badRequest, 400, message) }

    package static func invalidJSON(_ message: String, offset: Int) -> APIError {
        var error = APIError(.invalidJSON, 400, "The body is not valid JSON: \(message) at byte \(offset).")
        error.offset = offset
        return error
    }

    /// Most problems listed in one answer: a body made of thousands of unknown fields must not make an answer
    /// many times its own size. The message still counts them all.
    package static let maxDetails = 100

    package static func validationFailed(_ details: [FieldProblem]) -> APIError {
        var error = APIError(.validationFailed, 422, "The order is not valid: \(details.count) problem\(details.count == 1 ? "" : "s").")
        error.details = Array(details.prefix(maxDetails))
        if details.count > maxDetails {
            error.details.append(FieldProblem(field: "", message: "and \(details.count - maxDetails) more problems, not listed"))
        }
        return error
    }

    package static func idempotencyConflict() -> APIError {
        APIError(.conflict, 409, "This Idempotency-Key was already used with a different request body.")
    }

    package static func requestTimeout() -> APIError {
        APIError(.requestTimeout, 408, "The request body did not arrive in time.")
    }

    package static func unavailable(_ message: String, retryAfterSeconds: Int) -> APIError {
        var error = APIError(.unavailable, 503, message)
        error.headers = [("Retry-After", String(retryAfterSeconds))]
        return error
    }

    /// The order may or may not be stored: only a retry with the same `Idempotency-Key` can tell (it answers
    /// the stored order, or stores it now), so the message says so. Still a 503: clients that treat every 503
    /// as "retry later" do the right thing as long as they keep the key.
    package static func outcomeUnknown(retryAfterSeconds: Int) -> APIError {
        var error = APIError(
            .outcomeUnknown, 503,
            "The order store did not confirm whether the order was stored. Retry with the same Idempotency-Key: it answers the order if it was stored and stores it once if it was not.")
        error.headers = [("Retry-After", String(retryAfterSeconds))]
        return error
    }

    /// Why a request has no usable key; each says how to fix it, none echoes what was sent.
    package enum MissingCredential: Sendable {
        case missing, malformed, invalid
    }

    /// 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3): no key, not a bearer token, or a key nobody knows
    /// (a revoked key included). `basic`: also offer Basic (the admin pages), so a browser asks for the key.
    package static func unauthorized(_ reason: MissingCredential, basic: Bool = false) -> APIError {
        let message: String
        var challenge = #"Bearer realm="orderd""#
        switch reason {
        case .missing:
            message = "This request needs an API key: send 'Authorization: Bearer <key>'."
        case .malformed:
            message = "The Authorization header must be 'Bearer <key>'."
            challenge += #", error="invalid_request""#
        case .invalid:
            message = "The API key is not valid (unknown or revoked)."
            challenge += #", error="invalid_token""#
        }
        var error = APIError(.unauthorized, 401, message)
        error.headers = [("WWW-Authenticate", challenge)]
        if basic { error.headers.append(("WWW-Authenticate", #"Basic realm="orderd admin", charset="UTF-8""#)) }
        return error
    }

    /// 403: a valid key without the scope the route needs.
    package static func forbidden(keyID: String, missing scope: Scope) -> APIError {
        var error = APIError(.forbidden, 403, "API key '\(keyID)' lacks the scope '\(scope.rawValue)' this request needs.")
        error.headers = [("WWW-Authenticate", #"Bearer realm="orderd", error="insufficient_scope", scope="\#(scope.rawValue)""#)]
        return error
    }

    package static func rateLimited(_ message: String, retryAfterSeconds: Int) -> APIError {
        var error = APIError(.rateLimited, 429, message)
        error.headers = [("Retry-After", String(retryAfterSeconds))]
        return error
    }

    /// The answer for anything unexpected: says nothing internal.
    package static func `internal`() -> APIError {
        APIError(.internal, 500, "An internal error occurred; the request id identifies it in the server's log.")
    }
}
