import Logging

extension OrderdService {
    static func openStore(_ configuration: OrderdConfiguration, logger: Logger) throws -> any OrderStore {
        switch configuration.store.driver {
        case .sqlite: return try SQLiteOrderStore(configuration: configuration)
        }
    }

    static func router(store: any OrderStore, configuration: OrderdConfiguration, logger: Logger) -> Router {
        var router = Router()
        router.add("GET", .exact("/healthz")) { _, _ in
            .json(200, Array(#"{"status":"ok"}"#.utf8))
        }
        OrdersAPI(store: store, busyTimeout: configuration.store.busyTimeout).register(in: &router)
        return router
    }
}
