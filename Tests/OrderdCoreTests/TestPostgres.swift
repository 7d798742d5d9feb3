import Foundation
import Testing
@testable import OrderdCore

/// The throwaway PostgreSQL server `make test` starts (scripts/with-postgres.sh): a fresh database per test.
enum TestPostgres {
    static let environment = ProcessInfo.processInfo.environment

    /// Why the PostgreSQL tests cannot run here, or nil when they can.
    static var skipReason: String? {
        if let reason = environment["ORDERD_TEST_PG_SKIP"] { return reason }
        if environment["ORDERD_TEST_PG_URL"] == nil {
            return "ORDERD_TEST_PG_URL is not set: run through `make test`, whose scripts/with-postgres.sh starts PostgreSQL"
        }
        return nil
    }

    static var enabled: Bool { skipReason == nil }
    static var comment: Comment { Comment(rawValue: skipReason ?? "PostgreSQL is running") }

    /// A configuration on a new, empty database (driver postgres, password from the server's password file).
    static func freshDatabase() throws -> OrderdConfiguration {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        _ = try psql("CREATE DATABASE \(name)")
        var configuration = OrderdConfiguration()
        configuration.store.driver = .postgres
        configuration.store.url = url(database: String(name))
        configuration.store.passwordFile = environment["ORDERD_TEST_PG_PASSWORD_FILE"] ?? ""
        configuration.store.poolSize = 8
        configuration.store.connectTimeout = .seconds(5)
        return configuration
    }

    /// The server's URL with another database.
    static func url(database: String) -> String {
        let base = environment["ORDERD_TEST_PG_URL"] ?? ""
        let withoutQuery = base.split(separator: "?", maxSplits: 1)
        let slash = withoutQuery[0].lastIndex(of: "/")!
        return withoutQuery[0][..<slash] + "/" + database + (withoutQuery.count > 1 ? "?" + withoutQuery[1] : "")
    }

    /// Runs SQL with psql (unaligned, tuples only) on `url`'s database, default the server's `orderd`.
    static func psql(_ sql: String, url: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: environment["ORDERD_TEST_PG_PSQL"] ?? "/usr/bin/psql")
        let target = (url ?? environment["ORDERD_TEST_PG_URL"] ?? "").replacingOccurrences(of: "?sslmode=disable", with: "")
        process.arguments = [target, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql]
        var env = environment
        if let file = environment["ORDERD_TEST_PG_PASSWORD_FILE"] {
            env["PGPASSWORD"] = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw PsqlFailure(description: "psql \(sql): \(output)")
        }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct PsqlFailure: Error, CustomStringConvertible { var description: String }
}
