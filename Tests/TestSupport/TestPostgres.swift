import Foundation

/// The throwaway PostgreSQL server `make test` starts (scripts/with-postgres.sh), for the unit and the
/// integration tests alike: why the tests must skip, fresh databases, and psql.
public enum TestPostgres {
    static let environment = ProcessInfo.processInfo.environment

    /// Why the PostgreSQL tests cannot run here, or nil when they can.
    public static var skipReason: String? {
        if let reason = environment["ORDERD_TEST_PG_SKIP"] { return reason }
        if environment["ORDERD_TEST_PG_URL"] == nil {
            return "ORDERD_TEST_PG_URL is not set: run through `make test`, whose scripts/with-postgres.sh starts PostgreSQL"
        }
        return nil
    }

    public static var enabled: Bool { skipReason == nil }
    /// For a suite's `.enabled(if:_:)` comment.
    public static var skipComment: String { skipReason ?? "PostgreSQL is running" }

    /// The file holding the `orderd` role's password (`store.password_file`).
    public static var passwordFile: String { environment["ORDERD_TEST_PG_PASSWORD_FILE"] ?? "" }

    /// The CA that signed the server's certificate (`sslrootcert`), and one that did not.
    public static var certificateAuthority: String { environment["ORDERD_TEST_PG_CA"] ?? "" }
    public static var wrongCertificateAuthority: String { environment["ORDERD_TEST_PG_WRONG_CA"] ?? "" }
    /// An address the server listens on that its certificate does not name.
    public static var otherHost: String { environment["ORDERD_TEST_PG_OTHER_HOST"] ?? "" }

    /// Why the TLS tests cannot run here (an older scripts/with-postgres.sh made no certificates), or nil.
    public static var tlsSkipReason: String? {
        if let reason = skipReason { return reason }
        if certificateAuthority.isEmpty || wrongCertificateAuthority.isEmpty || otherHost.isEmpty {
            return "ORDERD_TEST_PG_CA, ORDERD_TEST_PG_WRONG_CA or ORDERD_TEST_PG_OTHER_HOST is not set: run through `make test`, whose scripts/with-postgres.sh makes the certificates"
        }
        return nil
    }

    /// `url` with its query replaced by `query` (nothing: no query) and, if given, another host.
    public static func url(_ url: String, query: String, host: String? = nil) -> String {
        var base = String(url.split(separator: "?", maxSplits: 1)[0])
        if let host, let at = base.firstIndex(of: "@") {
            let rest = base[base.index(after: at)...]
            let colon = rest.firstIndex(of: ":") ?? rest.firstIndex(of: "/") ?? rest.endIndex
            base = String(base[...at]) + host + rest[colon...]
        }
        return query.isEmpty ? base : base + "?" + query
    }

    /// Creates a new, empty database named `prefix` and random hex; returns its URL.
    public static func freshDatabaseURL(prefix: String) throws -> String {
        let name = prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        _ = try psql("CREATE DATABASE \(name)")
        return url(database: String(name))
    }

    /// The server's URL with another database.
    public static func url(database: String) -> String {
        let base = environment["ORDERD_TEST_PG_URL"] ?? ""
        let parts = base.split(separator: "?", maxSplits: 1)
        let slash = parts[0].lastIndex(of: "/")!
        return parts[0][..<slash] + "/" + database + (parts.count > 1 ? "?" + parts[1] : "")
    }

    /// The database a URL names.
    public static func database(of url: String) -> String {
        String(url.split(separator: "/").last!.split(separator: "?").first!)
    }

    /// Runs SQL with psql (unaligned, tuples only) on `url`'s database, default the server's `orderd`.
    ///
    /// The SQL goes to psql in a file, not on its command line: Linux refuses a single argument over 128 KiB, and a
    /// statement that lists every order of a load test (thousands of ids) passes that on a fast machine.
    public static func psql(_ sql: String, url: String? = nil) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("orderd-psql-\(UUID().uuidString).sql")
        try Data(sql.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let target = (url ?? environment["ORDERD_TEST_PG_URL"] ?? "").replacingOccurrences(of: "?sslmode=disable", with: "")
        var env = environment
        if !passwordFile.isEmpty {
            env["PGPASSWORD"] = try String(contentsOfFile: passwordFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // -X: no ~/.psqlrc, which -f would read (-c does not).
        let (status, output) = try runCommand(
            environment["ORDERD_TEST_PG_PSQL"] ?? "/usr/bin/psql",
            [target, "-X", "-v", "ON_ERROR_STOP=1", "-At", "-f", file.path], environment: env)
        guard status == 0 else {
            throw PsqlFailure(description: "psql \(sql.prefix(2_000)): \(output)")
        }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public struct PsqlFailure: Error, CustomStringConvertible { public var description: String }
}
