import Testing
import OrderdConfig

/// The suites that call a store on the PostgreSQL server, one test at a time. Their blocking calls hold a thread
/// of Swift's cooperative pool while postgres-nio works, and on two cores that pool has two: several such tests
/// at once starve it (closing a store then waits out its 10 s budget) and the executor's tests beside them.
/// In TestSupport so that the suites of every test target extend the same one (Swift Testing serializes a
/// parent's nested suites wherever they are declared).
@Suite(.serialized) package enum PostgresBackedSuites {}

extension TestPostgres {
    package static var comment: Comment { Comment(rawValue: skipComment) }

    /// A configuration on a new, empty database (driver postgres, password from the server's password file).
    package static func freshDatabase() throws -> OrderdConfiguration {
        var configuration = OrderdConfiguration()
        configuration.store.driver = .postgres
        configuration.store.url = try freshDatabaseURL(prefix: "t_")
        configuration.store.passwordFile = passwordFile
        configuration.store.poolSize = 8
        configuration.store.connectTimeout = .seconds(5)
        return configuration
    }
}
