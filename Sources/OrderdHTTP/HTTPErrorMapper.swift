import Logging
import OrderdOrders
import OrderdStore
import OrderdSupport

/// The one place where errors become HTTP responses.
///
/// Typed errors of every layer map to their status and `{"error":{"code","message","request_id",…}}`; anything
/// else is logged with the request id and answered with a 500 that tells the client nothing internal.
package enum HTTPErrorMapper {
    package static func apiError(for error: any Error, requestID: String, logger: Logger) -> APIError {
        switch error {
        case let error as APIError:
            return error
        default:
            if let mapped = mapDomainError(error) { return mapped }
            logger.error(
                "unexpected error",
                metadata: ["request_id": "\(requestID)", "error": "\(String(reflecting: error))"]
            )
            return .internal()
        }
    }

    package static func response(for error: any Error, requestID: String, logger: Logger) -> HTTPResponse {
        let apiError = apiError(for: error, requestID: requestID, logger: logger)
        return .json(apiError.status, body(for: apiError, requestID: requestID), headers: apiError.headers)
    }

    /// `{"error":{"code":…,"message":…,"request_id":…[,"offset":…][,"details":[{"field":…,"message":…}]]}}`
    package static func body(for error: APIError, requestID: String) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("error")
        writer.beginObject()
        writer.key("code")
        writer.string(error.code)
        writer.key("message")
        writer.string(error.message)
        writer.key("request_id")
        writer.string(requestID)
        if let offset = error.offset {
            writer.key("offset")
            writer.integer(Int64(offset))
        }
        if !error.details.isEmpty {
            writer.key("details")
            writer.beginArray()
            for detail in error.details {
                writer.beginObject()
                writer.key("field")
                writer.string(detail.field)
                writer.key("message")
                writer.string(detail.message)
                writer.endObject()
            }
            writer.endArray()
        }
        writer.endObject()
        writer.endObject()
        return writer.bytes
    }
}

extension HTTPErrorMapper {
    /// The typed errors of the other layers, each to its answer.
    static func mapDomainError(_ error: any Error) -> APIError? {
        switch error {
        case let error as OrderBodyError:
            switch error {
            case .syntax(let syntax): return .invalidJSON(syntax.message, offset: syntax.offset)
            case .invalid(let invalid): return .validationFailed(invalid.problems)
            }
        case let error as JSONSyntaxError:
            return .invalidJSON(error.message, offset: error.offset)
        case let error as OrderValidationError:
            return .validationFailed(error.problems)
        case let error as StoreError:
            switch error.code {
            case .busy:
                return .unavailable("The order store is busy; nothing was stored. Retry later.", retryAfterSeconds: 1)
            case .idempotencyConflict:
                return .idempotencyConflict()
            case .unavailable:
                return .unavailable("The order store is unavailable; nothing was stored. Retry later.", retryAfterSeconds: 5)
            case .outcomeUnknown:
                return .outcomeUnknown(retryAfterSeconds: 1)
            default:
                return nil  // corrupt or internal: a logged 500
            }
        default:
            return nil
        }
    }
}
