/// A part of a running orderd that is started once and stopped once, in an order the service declares: parts
/// start in that order and stop in reverse, so a part never outlives what it uses.
///
/// Not swift-service-lifecycle's `Service`: its `run()` is async and would hold a cooperative-pool thread for
/// the part's lifetime, while these parts are blocking threads by design (libfcgi, SQLite, `fdatasync`) and
/// their stops are blocking joins with deadlines.
package protocol BackgroundService: Sendable {
    /// Names the part in the stop report, e.g. `request threads`.
    var name: String { get }
    func start() throws
    /// Stops the part and returns once it has, or once `deadline` passed for a part that can give up waiting.
    /// Returns whether it finished its work in time (false: requests or tasks were cut off).
    func stop(deadline: ContinuousClock.Instant) -> Bool
}

/// How one part's stop went.
package struct StopReport: Sendable {
    package let name: String
    package let took: Duration
    /// What the part's stop returned: it finished its work (false: requests or tasks were cut off).
    package let finished: Bool
    /// It finished, and before its deadline.
    package let metDeadline: Bool
}

/// The parts a service started, stopped in reverse. Used from the one thread that starts and stops the service.
package struct ServiceLifecycle {
    private var started: [(name: String, budget: () -> Duration, stop: (ContinuousClock.Instant) -> Bool)] = []

    package init() {}

    /// Starts `service` after those already started.
    /// - Parameter budget: how long its stop may take, asked when the stop begins (a reload may change it).
    package mutating func start(_ service: any BackgroundService, stopBudget budget: @escaping () -> Duration) throws {
        try service.start()
        started.append((service.name, budget, service.stop(deadline:)))
    }

    /// Adds a part that is running already (opened before the lifecycle began) or a step of the stop that is
    /// no part of its own (telling systemd, closing the HTTP clients): it stops in the same reverse order.
    package mutating func started(
        _ name: String, stopBudget budget: @escaping () -> Duration, stop: @escaping (ContinuousClock.Instant) -> Bool
    ) {
        started.append((name, budget, stop))
    }

    /// Stops everything started, the last first; `report` hears of each stop as soon as it is done.
    @discardableResult
    package mutating func stopAll(report: (StopReport) -> Void) -> [StopReport] {
        var reports: [StopReport] = []
        while let (name, budget, stop) = started.popLast() {
            let begin = ContinuousClock.now
            let deadline = begin.advanced(by: budget())
            let finished = stop(deadline)
            let end = ContinuousClock.now
            let stopped = StopReport(name: name, took: end - begin, finished: finished, metDeadline: finished && end <= deadline)
            report(stopped)
            reports.append(stopped)
        }
        return reports
    }
}
