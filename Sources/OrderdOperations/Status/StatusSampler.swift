import OrderdFollowUps
import OrderdStore
import OrderdSupport
import Synchronization

/// Every `interval`, on a thread of its own, records orders created, the executor's queue depth and the
/// outbox's oldest pending age for the charts of `/status?html` (and the `history` of `/status`). Keeps the
/// last `capacity` samples (default 60 × 5 s: five minutes).
///
/// The outbox figures are a SQLite read, so they are taken here every `interval`, never per request of a
/// chart. The first sample is taken at `start()`.
package final class StatusSampler: Sendable {
    /// Fed by the HTTP edge (an observer); the sampler reads its order count.
    let requests: RequestCounter
    let interval: Duration
    private let followUps: FollowUps
    private let wallClock: @Sendable () -> Int64
    private let history: Mutex<StatusHistory>
    let capacity: Int
    private let thread = BackgroundThread(name: "orderd-sampler")

    package init(
        followUps: FollowUps, requests: RequestCounter = RequestCounter(), interval: Duration = .seconds(5),
        capacity: Int = 60, wallClock: @escaping @Sendable () -> Int64
    ) {
        self.followUps = followUps
        self.requests = requests
        self.interval = interval
        self.wallClock = wallClock
        self.capacity = capacity
        history = Mutex(StatusHistory(capacity: capacity))
    }

    /// The samples kept, oldest first.
    var samples: [StatusSample] { history.withLock { $0.samples } }

    package func start() throws(ThreadStartError) {
        try thread.start { [self] context in
            var previous: (created: Int, at: ContinuousClock.Instant)?
            var due = ContinuousClock.now
            repeat {
                let now = ContinuousClock.now
                let sample = take(previous: previous, at: now)
                previous = (sample.ordersCreated, now)
                // A fixed schedule, so samples stay `interval` apart; after a stall, start again from now.
                due = due.advanced(by: interval)
                if due < now { due = now.advanced(by: interval) }
                history.withLock { $0.append(sample) }
            } while context.wait(until: due)
        }
    }

    /// Wakes the thread and waits for it: it only ever waits between samples, and a sample is one short
    /// read, so this returns at once. A no-op when it was not started.
    package func stop() {
        thread.stop()
    }

    package var name: String { "status sampler" }

    private func take(previous: (created: Int, at: ContinuousClock.Instant)?, at now: ContinuousClock.Instant) -> StatusSample {
        let created = requests.ordersCreated
        var rate: Double?
        if let previous {
            let seconds = Double(previous.at.duration(to: now).nanos) / 1e9
            if seconds > 0 { rate = Double(max(0, created - previous.created)) / seconds }
        }
        let wall = wallClock()
        let followUps = followUps.snapshot(withOutbox: true)
        let outbox = try? followUps.outbox?.get()
        return StatusSample(
            atMillis: wall, ordersCreated: created, ordersPerSecond: rate,
            executorQueued: followUps.executor.queued, outboxPending: outbox?.pending,
            oldestPendingAgeSeconds: outbox?.oldestPendingMillis.map { Int(max(0, wall - $0) / 1000) })
    }
}

extension StatusSampler: BackgroundService {
    package func stop(deadline: ContinuousClock.Instant) -> Bool {
        stop()
        return true
    }
}
