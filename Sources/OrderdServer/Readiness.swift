import OrderdConfig
import OrderdStore
import OrderdSupport
import Synchronization

/// `GET /readyz`: whether this process should get new requests: the store answers a trivial read within
/// `deadline` and the process is not stopping. `/healthz` stays liveness (the process answers at all), so a
/// store outage takes an instance out of a balancer's rotation without systemd restarting it.
final class Readiness: Sendable {
    private let store: any OrderStore
    private let deadline: Duration
    private let draining = Atomic(false)

    init(store: any OrderStore, deadline: Duration = .seconds(1)) {
        self.store = store
        self.deadline = deadline
    }

    /// From the stop's first step on, `/readyz` says so.
    func beginDraining() { draining.store(true, ordering: .relaxed) }

    /// nil when ready; else the reason, for the 503's body.
    func check() -> String? {
        if draining.load(ordering: .relaxed) { return "draining: orderd is stopping" }
        let start = ContinuousClock.now
        do {
            // A read of an id no order has: the reader path of the store, no write, no lock held.
            _ = try store.order(id: "00000000-0000-7000-8000-000000000000")
        } catch {
            return "store: \(error.code)"
        }
        if ContinuousClock.now - start > deadline {
            return "store: a read took longer than \(ConfigValue.formatDuration(deadline))"
        }
        return nil
    }
}
