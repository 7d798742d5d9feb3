import OrderdSupport

/// `store.url`: where the PostgreSQL store is, in libpq's URL form, without the password.
///
///     postgres://USER@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-full][&sslrootcert=/CA.pem|system]
///         [&host=/SOCKET/DIR][&application_name=NAME]
///
/// `postgresql://` works too. HOST may be a name, an IPv4 address or `[IPv6]`; `host=/dir` in the query (or a
/// percent-encoded `%2Fdir` as HOST) connects over the unix socket `/dir/.s.PGSQL.PORT` instead. PORT defaults
/// to 5432, DATABASE to USER.
///
/// TLS, as libpq names it: `sslrootcert` is the CA (PEM) the server's certificate must chain to (`system`: the
/// system trust store). sslmode defaults to `verify-full` when `sslrootcert` is given (naming a CA only makes
/// sense to check against it; libpq would still default to `prefer`), else to `prefer` (libpq's default:
/// encrypted when the server offers it, never verified). `require` encrypts without verifying, as with libpq.
/// The CA is a URL parameter rather than an INI key because that is where libpq users look for it, and it
/// keeps one connection's settings in one value.
///
/// A password in the URL is refused: the INI file is readable by more people than the password should be, and
/// URLs end up in logs and `ps`. It comes from `store.password_file` or `$PGPASSWORD`.
///
/// Hand-written: postgres-nio takes its connection settings as a struct, and Foundation's `URLComponents` would
/// accept a password and unknown parameters silently.
package struct PostgresURL: Sendable, Equatable {
    package enum SSLMode: String, Sendable, CaseIterable { case disable, prefer, require, verifyFull = "verify-full" }

    package var user: String
    /// A host name or IP address; nil with `socketDirectory`.
    package var host: String?
    package var port: Int
    /// The directory of PostgreSQL's unix socket (`host=/run/postgresql`).
    package var socketDirectory: String?
    package var database: String
    package var sslMode: SSLMode
    /// True when the URL named no sslmode (`sslMode` is then the default, see above).
    package var sslModeIsDefault: Bool
    /// `sslrootcert`: a PEM file of CA certificates, or nil for the system trust store (`sslrootcert=system` or
    /// none given).
    package var rootCertificate: String?
    package var applicationName: String?

    /// `/dir/.s.PGSQL.5432` for a socket directory.
    package var socketPath: String? { socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } }

    /// Where it connects, for logs and errors (never holds the password, which the URL cannot have).
    package var endpoint: String {
        if let socketPath { return "\(socketPath) database \(database) user \(user)" }
        let shownHost = host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? ""
        return "\(shownHost):\(port) database \(database) user \(user)"
    }

    /// True for a unix socket, `localhost`, `127.0.0.0/8` and `::1`: traffic that never leaves the machine, where
    /// plain text is no risk.
    package var isLoopback: Bool {
        guard let host else { return true }
        let lower = host.lowercased()
        return lower == "localhost" || lower.hasSuffix(".localhost") || lower == "::1" || lower.hasPrefix("127.")
    }

    /// Why a URL that `init` refuses is refused, for the cases a person may not guess; nil otherwise. Never
    /// quotes the URL (it may hold a password).
    package static func refusalReason(_ text: String) -> String? {
        let lower = text.lowercased()
        let afterScheme = lower.range(of: "://").map { lower[$0.upperBound...] } ?? Substring(lower)
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" }
        if let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") {
            return "a password in the URL is refused; put it in the file store.password_file names, or in $PGPASSWORD"
        }
        let query = lower.split(separator: "?", maxSplits: 1).dropFirst().first.map { $0.split(separator: "&") } ?? []
        if query.contains(where: { $0.hasPrefix("password=") }) {
            return "a password in the URL is refused; put it in the file store.password_file names, or in $PGPASSWORD"
        }
        let known = ["sslmode", "sslrootcert", "host", "application_name"]
        for item in query {
            let name = item.prefix { $0 != "=" }
            if !known.contains(String(name)) {
                // The name only, and only when it looks like one: a value typed in its place may be a secret.
                let shown = name.count <= 32 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") } ? " '\(name)'" : ""
                return "unknown parameter\(shown) (orderd takes \(known.joined(separator: ", ")))"
            }
        }
        if let mode = query.first(where: { $0.hasPrefix("sslmode=") }), SSLMode(rawValue: String(mode.dropFirst(8))) == nil {
            return "sslmode takes \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))"
        }
        if query.contains(where: { $0.hasPrefix("sslrootcert=") }) {
            if query.contains(where: { $0.hasPrefix("sslmode=") && $0 != "sslmode=verify-full" }) {
                return "sslrootcert goes with sslmode=verify-full (or no sslmode, which then means verify-full)"
            }
            if query.contains(where: { $0.hasPrefix("sslrootcert=") && $0 != "sslrootcert=system" && !$0.hasPrefix("sslrootcert=/") }) {
                return "sslrootcert takes an absolute path or system"
            }
        }
        return nil
    }

    package init?(_ text: String) {
        guard text.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\"" }) else { return nil }
        let lower = text.lowercased()
        guard let scheme = ["postgres://", "postgresql://"].first(where: { lower.hasPrefix($0) }) else { return nil }
        var rest = Substring(text.dropFirst(scheme.count))
        var query = Substring()
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard !rest.contains("#") else { return nil }
        // USER@HOST[:PORT][/DATABASE]
        guard let at = rest.firstIndex(of: "@") else { return nil }
        let userPart = rest[..<at]
        guard !userPart.isEmpty, !userPart.contains(":"), let user = Self.percentDecoded(userPart) else { return nil }
        self.user = user
        var hostPort = rest[rest.index(after: at)...]
        var databasePart = Substring()
        if let slash = hostPort.firstIndex(of: "/") {
            databasePart = hostPort[hostPort.index(after: slash)...]
            hostPort = hostPort[..<slash]
        }
        guard !hostPort.contains("@") else { return nil }
        port = 5432
        var hostText: Substring = hostPort
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { return nil }
            hostText = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let parsed = Int(after.dropFirst()), (1...65535).contains(parsed) else { return nil }
                port = parsed
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            guard let parsed = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(parsed) else { return nil }
            port = parsed
            hostText = hostPort[..<colon]
        }
        guard let decodedHost = Self.percentDecoded(hostText) else { return nil }
        host = decodedHost.isEmpty ? nil : decodedHost
        socketDirectory = nil
        if let host, host.hasPrefix("/") {
            socketDirectory = host
            self.host = nil
        }
        guard !databasePart.contains("/"), let database = Self.percentDecoded(databasePart) else { return nil }
        self.database = database.isEmpty ? user : database
        var explicitMode: SSLMode?
        var rootCertificate: String?
        applicationName = nil
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let value = Self.percentDecoded(parts[1]) else { return nil }
            switch parts[0] {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else { return nil }
                explicitMode = mode
            case "sslrootcert":
                // An absolute path (a daemon's working directory is `/`), or libpq's `system`.
                guard value == "system" || ConfigValue.isAbsolutePath(value) else { return nil }
                rootCertificate = value
            case "host":
                guard value.hasPrefix("/") else { return nil }
                socketDirectory = value
                host = nil
            case "application_name":
                applicationName = value
            default:
                return nil  // password=…, or a parameter orderd would silently ignore
            }
        }
        guard host != nil || socketDirectory != nil else { return nil }
        // A CA named, then left unused by a weaker mode, is almost certainly a mistake: refused, not ignored.
        if rootCertificate != nil, let explicitMode, explicitMode != .verifyFull { return nil }
        sslModeIsDefault = explicitMode == nil
        sslMode = explicitMode ?? (rootCertificate != nil ? .verifyFull : .prefer)
        self.rootCertificate = rootCertificate == "system" ? nil : rootCertificate
        if let socketDirectory, socketDirectory.utf8.count + 16 > ConfigValue.maxSocketPathBytes { return nil }
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(Hex.digit), let low = iterator.next().flatMap(Hex.digit) else { return nil }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        guard !bytes.contains(0) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
