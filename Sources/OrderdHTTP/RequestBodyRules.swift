import OrderdSupport

/// The checks a JSON request body passes before anything parses it, in the order a client should hear them:
/// media type (415), a declared length (411/400), the size limit (413, decided before reading a byte).
enum RequestBodyRules {
    /// The validated length to read.
    static func expectedLength(for request: HTTPRequest, maxBytes: Int) throws(APIError) -> Int {
        // nginx passes an empty CONTENT_TYPE when the header is absent.
        let contentType = request.contentType.flatMap { $0.isEmpty ? nil : $0 }
        guard let contentType, isJSON(contentType) else { throw .unsupportedMediaType(contentType) }
        guard let raw = request.contentLength, !raw.isEmpty else { throw .lengthRequired() }
        guard raw.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw .badRequest("Content-Length '\(raw.prefix(40))' is not a non-negative integer.")
        }
        // Leading zeros are legal (nginx passes the header as sent); past 18 significant digits no size we
        // accept is possible and Int() would overflow.
        let digits = raw.drop { $0 == "0" }
        guard digits.utf8.count <= 18, let length = digits.isEmpty ? 0 : Int(digits) else {
            throw .contentTooLarge(limit: maxBytes)
        }
        guard length <= maxBytes else { throw .contentTooLarge(limit: maxBytes) }
        guard length > 0 else { throw .badRequest("The request body is empty.") }
        return length
    }

    /// `application/json`, optionally with `charset=utf-8`; any other charset is refused.
    static func isJSON(_ contentType: String) -> Bool {
        // What nearly every client sends; the general parse below is for the rest.
        if contentType == "application/json" || contentType == "application/json; charset=utf-8" { return true }
        let parts = contentType.split(separator: ";", omittingEmptySubsequences: false)
        guard parts[0].trimmingSpaces().lowercased() == "application/json" else { return false }
        for parameter in parts.dropFirst() where !parameter.trimmingSpaces().isEmpty {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return false }
            let name = pair[0].trimmingSpaces().lowercased()
            var value = pair[1].trimmingSpaces().lowercased()
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            if name == "charset" && value != "utf-8" && value != "utf8" { return false }
        }
        return true
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        guard let first = firstIndex(where: { $0 != " " && $0 != "\t" }),
            let last = lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return "" }
        return String(self[first...last])
    }
}
