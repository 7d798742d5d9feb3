import OrderdSupport

/// One point of the `/status` history, taken by `StatusSampler`.
struct StatusSample: Sendable, Equatable {
    /// Wall-clock time of the sample, Unix milliseconds.
    var atMillis: Int64
    /// Orders answered 201 since start.
    var ordersCreated: Int
    /// Orders created per second since the previous sample; nil for the first one.
    var ordersPerSecond: Double?
    /// Tasks waiting in the executor's queue.
    var executorQueued: Int
    /// Pending outbox tasks; nil when the store could not be read.
    var outboxPending: Int?
    /// Age of the oldest pending outbox task; nil when nothing is pending or the store could not be read.
    var oldestPendingAgeSeconds: Int?
}
