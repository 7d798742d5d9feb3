import OrderdConfig
import OrderdSupport

/// An answer to one request, as the request thread writes it back through FastCGI.
package struct HTTPResponse: Sendable {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
    /// Work to start once the response is finished (`FCGX_Finish_r`), on the request thread: a hand-off that
    /// must not block (the follow-up tasks of a new order).
    package var afterResponse: (@Sendable () -> Void)?

    package init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON answer.
    package static func json(_ status: Int, _ body: [UInt8], headers: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    /// The CGI-style header block and body, ready for FCGX_PutStr.
    ///
    /// Appended into one buffer sized up front: string interpolation into a growing `String` was the request
    /// threads' largest source of allocations (perf).
    func serialized(requestID: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(
            96 + requestID.utf8.count + body.count + headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        func append(_ text: String) { bytes.append(contentsOf: text.utf8) }
        append("Status: ")
        append(String(status))
        append(" ")
        append(HTTPResponse.reason(status))
        append("\r\n")
        for header in headers {
            append(header.name)
            append(": ")
            append(header.value)
            append("\r\n")
        }
        append("X-Request-Id: ")
        append(requestID)
        append("\r\nContent-Length: ")
        append(String(body.count))
        append("\r\n\r\n")
        bytes.append(contentsOf: body)
        return bytes
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 422: return "Unprocessable Content"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status \(status)"
        }
    }
}
