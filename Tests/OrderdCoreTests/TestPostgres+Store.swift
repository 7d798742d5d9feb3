import Testing
import TestSupport
@testable import OrderdCore

extension TestPostgres {
    static var comment: Comment { Comment(rawValue: skipComment) }

    /// A configuration on a new, empty database (driver postgres, password from the server's password file).
    static func freshDatabase() throws -> OrderdConfiguration {
        var configuration = OrderdConfiguration()
        configuration.store.driver = .postgres
        configuration.store.url = try freshDatabaseURL(prefix: "t_")
        configuration.store.passwordFile = passwordFile
        configuration.store.poolSize = 8
        configuration.store.connectTimeout = .seconds(5)
        return configuration
    }
}
