/// The one place that decides how secrets look wherever orderd shows configuration: `check-config`, `/status`,
/// log lines and error messages.
///
/// - A secret value is replaced whole (`OrderdConfiguration.maskedSecret`).
/// - A URL keeps what says where it goes (scheme, host, port, path, parameter names, a PostgreSQL role) and loses
///   what may be a credential: the password of the userinfo (all of it for other schemes) and every query value
///   (`https://gw.example/send?token=***`). A shop's gateway
///   often takes its API key as a query parameter; which ones are secret cannot be known, so all are masked.
package enum SecretMask {
    /// What a masked part of a URL reads.
    package static let maskedPart = "***"

    /// `url` with its userinfo and every query value replaced by `***`; a fragment is dropped. Text that is not
    /// `scheme://…` comes back masked whole when it has an `@`, `?` or `=`, else as it is.
    package static func url(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else {
            return url.contains(where: { "@?=".contains($0) }) ? maskedPart : url
        }
        var rest = url[schemeEnd.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var query: Substring?
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var authority = rest.prefix { $0 != "/" }
        let path = rest[authority.endIndex...]
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            let host = authority[authority.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                authority = userinfo[...colon] + maskedPart + "@" + host
            } else if !url.lowercased().hasPrefix("postgres") {
                // A lone user name is a token for some HTTP APIs (`https://KEY@api.example`); in libpq's URL it is
                // the role, which is no secret and which ops need to see.
                authority = Substring(maskedPart + "@") + host
            }
        }
        var shown = String(url[..<schemeEnd.upperBound]) + authority + path
        if let query {
            let items = query.split(separator: "&", omittingEmptySubsequences: false).map { item -> String in
                guard let equals = item.firstIndex(of: "=") else { return String(item) }
                return item[...equals] + maskedPart
            }
            shown += "?" + items.joined(separator: "&")
        }
        return shown
    }

    /// `text` with every `scheme://…` URL in it masked as `url(_:)` does: for messages that come from libraries
    /// (an HTTP client's error may quote the URL it was given).
    package static func urls(in text: String) -> String {
        guard text.contains("://") else { return text }
        var result = ""
        var rest = Substring(text)
        while let separator = rest.range(of: "://") {
            // The scheme: letters, digits, + - . right before "://".
            var start = separator.lowerBound
            while start > rest.startIndex {
                let previous = rest.index(before: start)
                guard rest[previous].isASCII && (rest[previous].isLetter || rest[previous].isNumber || "+-.".contains(rest[previous])) else { break }
                start = previous
            }
            // The URL ends at a blank, a quote, `>`, `,` or `)` (how messages delimit it; IPv6 `[…]` stays inside).
            let end = rest[separator.upperBound...].firstIndex { $0.isWhitespace || "\"'<>,)".contains($0) } ?? rest.endIndex
            result += rest[..<start]
            result += url(String(rest[start..<end]))
            rest = rest[end...]
        }
        return result + rest
    }
}
