import OrderdSupport

/// A snapshot of a ``BoundedExecutor``'s counters, taken under its lock so the figures agree with each other.
package struct ExecutorStatistics: Sendable, Equatable {
    /// Tasks accepted by `trySubmit` since the executor was created.
    package var submitted: Int = 0
    /// Tasks refused by `trySubmit` (queue full or stopping); their `finished` was not called.
    package var rejected: Int = 0
    /// Tasks that returned normally before their deadline.
    package var completed: Int = 0
    /// Tasks that threw before their deadline.
    package var failed: Int = 0
    /// Tasks cancelled at their deadline that then returned or threw.
    package var timedOut: Int = 0
    /// Tasks that did not return within the stuck grace after being cancelled; their worker was given up.
    package var stuck: Int = 0
    /// Tasks cancelled because stop's drain deadline passed while they ran.
    package var cancelledAtStop: Int = 0
    /// Tasks accepted but dropped unstarted by stop.
    package var notStarted: Int = 0
    /// Tasks running now (abandoned stuck tasks not counted).
    package var running: Int = 0
    /// Tasks waiting in the queue now.
    package var queued: Int = 0
    /// Configured number of workers.
    package var workers: Int = 0
    /// Configured queue capacity.
    package var queueCapacity: Int = 0
    /// Workers parked waiting for a task.
    package var idleWorkers: Int = 0
    /// Times a parked worker was woken for queued work (each costs a thread wake-up, typically microseconds).
    package var wakeups: Int = 0
    /// Workers given up as stuck whose task has not returned yet.
    package var abandonedWorkers: Int = 0
    /// Whether the deadline supervisor is suspended because every accepted task is finished (it ticks again from
    /// the next `trySubmit`).
    package var supervisorIdle: Bool = false

    package init() {}
}
