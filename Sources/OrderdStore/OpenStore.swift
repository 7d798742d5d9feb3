import Logging
import OrderdConfig
import OrderdSupport

/// The store `store.driver` names: one call for the server and the CLI.
package enum OrderStores {
    /// Opens the configured store; with `outbox`, every new order gets its durable tasks in its transaction.
    package static func open(
        _ settings: StoreSettings, outbox: OutboxInsertion? = nil,
        logger: Logger = Logger(label: "orderd.store", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws(StoreError) -> any OrderStore & OutboxStore {
        switch settings.store.driver {
        case .sqlite: return try SQLiteOrderStore(settings: settings, outbox: outbox)
        case .postgres: return try PostgresOrderStore(settings: settings, outbox: outbox, logger: logger)
        }
    }
}

/// A store whose commits the metrics can watch.
package protocol CommitObservable: AnyObject {
    func observeCommits(_ observer: any CommitObserver)
}

extension SQLiteOrderStore: CommitObservable {}
extension PostgresOrderStore: CommitObservable {}
