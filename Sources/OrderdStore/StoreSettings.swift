import OrderdConfig

/// What a store reads from the configuration: its own `[store]` section and the three keys of other sections that
/// govern the rows it writes. A store receives this, never the whole configuration.
package struct StoreSettings: Sendable, Equatable {
    /// `[store]`: driver, path or URL, durability, timeouts, pool.
    package var store: OrderdConfiguration.Store
    /// `orders.idempotency_ttl`: how long an idempotency key (and its request's fingerprint) is remembered.
    package var idempotencyTTL: Duration
    /// `outbox.retention`: done tasks older than this are deleted; zero keeps them.
    package var retention: Duration
    /// `server.request_timeout` as the store started: PostgreSQL's `statement_timeout` (no statement outlives the
    /// request that sent it by much). A reload changes the request threads' own waits only.
    package var statementTimeout: Duration

    package init(
        store: OrderdConfiguration.Store,
        idempotencyTTL: Duration = OrderdConfiguration.Orders().idempotencyTTL,
        retention: Duration = .zero,
        statementTimeout: Duration = OrderdConfiguration.Server().requestTimeout
    ) {
        self.store = store
        self.idempotencyTTL = idempotencyTTL
        self.retention = retention
        self.statementTimeout = statementTimeout
    }

    package init(_ configuration: OrderdConfiguration) {
        self.init(
            store: configuration.store, idempotencyTTL: configuration.orders.idempotencyTTL,
            retention: configuration.outbox.retention, statementTimeout: configuration.server.requestTimeout)
    }
}
