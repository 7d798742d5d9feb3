import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// Bounds how long a request thread can sit in a blocking read from a slow or stalled peer.
///
/// libfcgi reads with plain blocking `read()` calls and offers no timeout. `SO_RCVTIMEO` bounds one read, not a
/// whole body dribbled in byte by byte, so a watchdog thread cuts the read side (`shutdown(SHUT_RD)`) of any
/// connection whose request passed its deadline: the blocked read returns at once, the thread can still write
/// its 408, and it is free again.
final class ReadDeadlines: Sendable {
    // The slots behind a pthread mutex (every request arms and disarms one: a hot path). The watchdog only calls
    // shutdown() under it, while the slot still names the fd, so it never cuts a descriptor closed and reused.
    private struct Slot {
        var fd: Int32 = -1
        var deadline: ContinuousClock.Instant = .now
        var fired = false
    }

    private let slots: PThreadLocked<[Slot]>
    private let interval: Duration
    private let watchdog = BackgroundThread(name: "orderd-deadline")

    init(slots count: Int, checkEvery interval: Duration = .milliseconds(100)) {
        slots = PThreadLocked(Array(repeating: Slot(), count: count))
        self.interval = interval
    }

    /// Without the watchdog a stalled peer could hold a request thread for good, so a thread that cannot start
    /// stops the process (it is among the first threads started: the machine is out of threads).
    /// - Parameter alsoAtEachCheck: run by the watchdog after each check of the slots, with the check's time (the
    ///   server's own deadline: connections parked silent for too long).
    func start(alsoAtEachCheck: @escaping @Sendable (ContinuousClock.Instant) -> Void) {
        do {
            try watchdog.start { [self] context in run(context, alsoAtEachCheck) }
        } catch {
            fatalError("\(error)")
        }
    }

    /// Returns once the watchdog has ended.
    func stop() {
        watchdog.stop()
    }

    func arm(_ slot: Int, fd: Int32, deadline: ContinuousClock.Instant) {
        slots.withLock { $0[slot] = Slot(fd: fd, deadline: deadline, fired: false) }
    }

    /// Stops watching the slot; returns whether the deadline had fired.
    @discardableResult
    func disarm(_ slot: Int) -> Bool {
        slots.withLock { slots in
            let fired = slots[slot].fired
            slots[slot].fd = -1
            return fired
        }
    }

    func fired(_ slot: Int) -> Bool {
        slots.withLock { $0[slot].fired }
    }

    private func run(_ context: BackgroundThread.Context, _ alsoAtEachCheck: (ContinuousClock.Instant) -> Void) {
        var next: ContinuousClock.Instant
        repeat {
            let now = ContinuousClock.now
            next = now.advanced(by: interval)
            slots.withLock { slots in
                for index in slots.indices where slots[index].fd >= 0 && !slots[index].fired && slots[index].deadline <= now {
                    shutdown(slots[index].fd, Int32(SHUT_RD))
                    slots[index].fired = true
                }
            }
            alsoAtEachCheck(now)
        } while context.wait(until: next)
    }
}
