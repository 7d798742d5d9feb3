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
///
/// The watchdog checks every `interval` while there is something to watch: an armed slot, or whatever the check's
/// caller still watches (`alsoAtEachCheck`). With nothing, it sleeps without a deadline, and `arm` or
/// `wakeIfIdle` start it again: ticking anyway was 10 of an idle orderd's 21 context switches a second.
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

    /// Whether the watchdog is asleep for want of anything to watch (or about to be), for tests.
    var isIdle: Bool { watchdog.isIdle }

    /// Without the watchdog a stalled peer could hold a request thread for good, so a thread that cannot start
    /// stops the process (it is among the first threads started: the machine is out of threads).
    /// - Parameter alsoAtEachCheck: run by the watchdog after each check of the slots, with the check's time (the
    ///   server's own deadline: connections parked silent for too long); returns whether it still has something to
    ///   watch. When it starts watching something again while the watchdog is idle, its owner calls `wakeIfIdle`.
    func start(alsoAtEachCheck: @escaping @Sendable (ContinuousClock.Instant) -> Bool) {
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

    /// Once per request: beside the lock, one relaxed load, and a wake only for an idle watchdog.
    func arm(_ slot: Int, fd: Int32, deadline: ContinuousClock.Instant) {
        slots.withLock { $0[slot] = Slot(fd: fd, deadline: deadline, fired: false) }
        watchdog.wakeIfIdle()
    }

    /// Wakes the watchdog if it is idle, for something `alsoAtEachCheck` watches (which must be visible to it by
    /// the time this is called).
    func wakeIfIdle() {
        watchdog.wakeIfIdle()
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

    private func run(_ context: BackgroundThread.Context, _ alsoAtEachCheck: (ContinuousClock.Instant) -> Bool) {
        var next: ContinuousClock.Instant?
        repeat {
            let now = ContinuousClock.now
            next = now.advanced(by: interval)
            // The idle flag goes up under the lock, before `alsoAtEachCheck` looks, so no work is missed: `arm` takes
            // the lock after this check (its slot is then seen next time) or before it (the slot is seen now), and
            // its `wakeIfIdle` after its unlock sees the flag raised under this one. What `alsoAtEachCheck` watches
            // is visible before its owner calls `wakeIfIdle`, and it looks after the flag is up.
            let armed = slots.withLock { slots -> Bool in
                var armed = false
                for index in slots.indices where slots[index].fd >= 0 && !slots[index].fired {
                    if slots[index].deadline <= now {
                        shutdown(slots[index].fd, Int32(SHUT_RD))
                        slots[index].fired = true
                    } else {
                        armed = true
                    }
                }
                if !armed { context.becomeIdle() }
                return armed
            }
            let watching = alsoAtEachCheck(now)
            if !armed {
                if watching {
                    context.stayAwake()
                } else {
                    next = nil
                }
            }
        } while context.wait(until: next)
    }
}
