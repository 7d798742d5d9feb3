/// A snapshot of a ``BoundedExecutor``'s counters, taken under its lock so the figures agree with each other.
public struct ExecutorStatistics: Sendable, Equatable {
    /// Tasks accepted by `trySubmit` since the executor was created.
    public var submitted: Int = 0
    /// Tasks refused by `trySubmit` (queue full or stopping); their `finished` was not called.
    public var rejected: Int = 0
    /// Tasks that returned normally before their deadline.
    public var completed: Int = 0
    /// Tasks that threw before their deadline.
    public var failed: Int = 0
    /// Tasks cancelled at their deadline that then returned or threw.
    public var timedOut: Int = 0
    /// Tasks that did not return within the stuck grace after being cancelled; their worker was given up.
    public var stuck: Int = 0
    /// Tasks cancelled because stop's drain deadline passed while they ran.
    public var cancelledAtStop: Int = 0
    /// Tasks accepted but dropped unstarted by stop.
    public var notStarted: Int = 0
    /// Tasks running now (abandoned stuck tasks not counted).
    public var running: Int = 0
    /// Tasks waiting in the queue now.
    public var queued: Int = 0
    /// Configured number of workers.
    public var workers: Int = 0
    /// Configured queue capacity.
    public var queueCapacity: Int = 0
    /// Workers parked waiting for a task.
    public var idleWorkers: Int = 0
    /// Times a parked worker was woken for queued work (each costs a thread wake-up, typically microseconds).
    public var wakeups: Int = 0
    /// Workers given up as stuck whose task has not returned yet.
    public var abandonedWorkers: Int = 0

    public init() {}
}
