import CFastCGI
import Foundation
import Logging
import OrderdConfig
import OrderdSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What a request thread does with one request: answer it through the exchange, and optionally hand back
/// work to run once the response is finished (`FCGX_Finish_r`), such as submitting follow-up tasks.
package protocol FastCGIResponder: Sendable {
    func respond(to exchange: borrowing FastCGIExchange, readDeadline: ContinuousClock.Instant) -> (@Sendable () -> Void)?
}

/// The FastCGI responder: `workers` threads we own, each looping accept → handle → finish on libfcgi.
///
/// Connections are handed out through one epoll set that every idle thread waits on: the listening socket and
/// every connection waiting for its next request, each registered one-shot (`EPOLLONESHOT`), so the kernel gives a
/// ready source to exactly one waiting thread, and the source stays out of the set until that thread re-arms it.
/// The thread that gets the listening socket accepts (which serialises `accept()`: Debian's libfcgi is built
/// without `USE_LOCKING`), serves a new connection once it has its request to read, puts one that has not into
/// the set (`takeFromBacklog` says when it takes the whole backlog) and re-arms the socket; a kept connection goes
/// back into the set when its request is done. So a connection nginx keeps open (`fastcgi_keep_conn on`) waits in
/// the set instead of pinning a thread the way libfcgi's own loop does (measured here: with keepalive 16 and 4
/// threads the plain loop served nothing in 2 runs of 6), and so does a client that connects and sends nothing,
/// until `requestTimeout` has passed: then the read-deadline watchdog shuts its read side and it is closed like
/// any peer that went away. The kernel reports ready
/// sources in the order they became ready, so new connections and kept ones take turns one by one.
///
/// A responder may hand its request over (`FastCGIExchange.handOver()`): then another thread writes the answer and
/// finishes the request (`HandedOverRequest.finish`), and the request thread goes back to the set at once. An order
/// waiting for its commit holds no thread that way. The stop waits for handed-over requests as for the threads.
///
/// At the stop, the threads accept no more (what waits in the backlog is the next process's), serve every parked
/// connection that never had a request (a client that connected is waiting for its answer), and go on serving the
/// kept ones until their peer closes them, for at most `keptConnectionDrain`; then they close what is left. nginx
/// closes a kept connection only when it is not using it, so a request it writes to one is never lost; orderd
/// closing one can cross a request nginx is writing to it, which nginx does not resend if it is a POST (the 502 of
/// a restart with upstream keepalive). nginx/orderd.conf has nginx close its kept connections within a second
/// (`keepalive_timeout`, `keepalive_time`).
///
/// Written against epoll directly: no listed package offers a blocking, thread-per-request readiness wait (NIO's
/// selector belongs to its event loops). It replaced a leader/follower loop (one thread polled while the others
/// queued on a mutex), which cost each request a mutex hand-off and a `poll()` whose set was rebuilt every time,
/// and each parked connection a pipe write to interrupt the leader.
// Invariant: the vars are touched only under `state` (`refusalLog`: by the thread holding the listening socket's
// one-shot event), and each FCGX_Request has one owner at a time. A parked one belongs to `parked`: whoever takes
// it out of the list under `state` owns it (the thread its event went to, or a thread draining at the stop); an
// event for a connection no longer in the list is stale and ignored.
package final class FastCGIServer: @unchecked Sendable {
    private let listenFD: Int32
    /// The set every idle request thread waits on: the listening socket, parked connections and `wakeFD`.
    private let epollFD: Int32
    /// Read and write ends of a pipe that ends every thread's wait at the stop: registered level-triggered and
    /// never drained, so each waiting thread sees it.
    private let wakeFD: Int32
    private let wakeWriteFD: Int32
    private let workers: Int
    private let reloadableTimeout: Reloadable<Duration>
    /// Metrics: threads handling a connection now (the others wait for one).
    private let busyCount = Atomic<Int>(0)
    /// The request threads, joined at a stop that finished in time.
    private let ownedThreads = Mutex<[OwnedThread]>([])
    private let heartbeatCount = Atomic<UInt64>(0)
    private let maxParked: Int
    private let isUnixListener: Bool
    private let responder: any FastCGIResponder
    private let logger: Logger
    private let state = PThreadMutex()
    private let deadlines: ReadDeadlines
    /// The connections in the epoll set, by their FCGX_Request (their entry's tag): the thread an event goes to
    /// takes its connection out with one lookup, however many wait (up to `maxParked`, when silent clients fill it).
    private var parked: [UnsafeMutablePointer<FCGX_Request>: Parked] = [:] {
        didSet { parkedHint.store(parked.count, ordering: .relaxed) }
    }
    /// `parked.count`, readable without the lock: whether the thread that accepts takes the whole backlog.
    private let parkedHint = Atomic<Int>(0)
    private var spare: [UnsafeMutablePointer<FCGX_Request>] = []
    private var stopping = false
    /// Set with `stopping`: kept connections are served and parked again until then, and closed after.
    private var keptDrainEnd = ContinuousClock.Instant.now
    private var running = 0
    /// Requests handed over to another thread (`HandedOverRequest`) and not finished yet: the stop waits for them.
    private var handedOverCount = 0
    /// Per request thread: whether it handed its request over during its current responder call. Each entry is
    /// touched by its own thread only (raw memory, not an array: a Swift array in a class property would be one
    /// variable shared by every thread's write).
    private let handedOverBySlot: UnsafeMutablePointer<Bool>
    private let allowed: Reloadable<AllowedPeers>
    private let onRefusedPeer: (@Sendable () -> Void)?
    /// When a refused peer was last logged, and how many were refused since without a line of their own; only
    /// touched by the thread holding the listening socket's event (one at a time: it is one-shot).
    private var refusalLog: (at: ContinuousClock.Instant, unlogged: Int)?
    /// At most one log line per this long about refused peers: a scanner must not be able to flood the journal.
    static let refusalLogInterval: Duration = .seconds(10)

    /// Grows while request threads make progress: each request handled, each idle thread's wait (at least
    /// once a second). Flat for long means every thread is stuck.
    package var heartbeats: UInt64 { heartbeatCount.load(ordering: .relaxed) }

    /// Request threads handling a connection now, for metrics; the others wait for one.
    package var busyThreads: Int { busyCount.load(ordering: .relaxed) }
    /// Requests handed over to another thread and not finished yet (for the in-flight gauge).
    package var handedOverRequests: Int { state.withLock { handedOverCount } }

    /// Request threads running: `workers` from `start()` until they end at the stop.
    package var threads: Int { state.withLock { running } }

    /// Whether the read-deadline watchdog sleeps for want of anything to watch, for tests.
    package var readDeadlinesIdle: Bool { deadlines.isIdle }

    /// `server.request_timeout`; a reload changes it for requests that start afterwards.
    package var requestTimeout: Duration {
        get { reloadableTimeout.value }
        set { reloadableTimeout.value = newValue }
    }

    /// `server.allow_from`: peers of a TCP listener outside it are closed at accept; a reload changes it for
    /// connections accepted afterwards.
    package var allowFrom: AllowedPeers {
        get { allowed.value }
        set { allowed.value = newValue }
    }

    /// - Parameters:
    ///   - allowFrom: the peers served on a TCP listener (`server.allow_from`); every peer when empty.
    ///   - onRefusedPeer: called for each connection closed because its peer is not in `allowFrom` (metrics).
    package init(
        listenFD: Int32,
        workers: Int,
        requestTimeout: Duration,
        maxParkedConnections: Int = 1024,
        allowFrom: AllowedPeers = AllowedPeers(),
        onRefusedPeer: (@Sendable () -> Void)? = nil,
        responder: any FastCGIResponder,
        logger: Logger
    ) {
        self.listenFD = listenFD
        self.allowed = Reloadable(allowFrom)
        self.onRefusedPeer = onRefusedPeer
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &length) == 0 }
        }
        self.isUnixListener = named && address.ss_family == sa_family_t(AF_UNIX)
        self.workers = workers
        self.reloadableTimeout = Reloadable(requestTimeout)
        self.maxParked = maxParkedConnections
        self.responder = responder
        self.logger = logger
        var ends: [Int32] = [-1, -1]
        pipe(&ends)
        for fd in ends {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        self.wakeFD = ends[0]
        self.wakeWriteFD = ends[1]
        self.epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        self.deadlines = ReadDeadlines(slots: workers)
        self.handedOverBySlot = .allocate(capacity: workers)
        handedOverBySlot.initialize(repeating: false, count: workers)
        register(wakeFD, tag: Self.wakeTag, oneShot: false)
    }

    deinit {
        handedOverBySlot.deallocate()
        close(epollFD)
        close(wakeFD)
        close(wakeWriteFD)
    }

    /// Starts the request threads; returns at once.
    package func start() throws(ThreadStartError) {
        FCGX_Init()
        // Readiness comes from epoll; a non-blocking listener keeps a lost accept race (another process sharing
        // the socket during a restart) from blocking the thread that took the event.
        let flags = fcntl(listenFD, F_GETFL)
        _ = fcntl(listenFD, F_SETFL, flags | O_NONBLOCK)
        register(listenFD, tag: Self.listenTag, oneShot: true)
        deadlines.start { [self] now in closeSilentConnections(at: now) }
        state.withLock { running = workers }
        for slot in 0..<workers {
            do {
                let thread = try OwnedThread(name: "orderd-req-\(slot)", stackSize: 1 << 20) { [self] in workerLoop(slot: slot) }
                ownedThreads.withLock { $0.append(thread) }
            } catch {
                // All or none: the threads that started leave again, and the start fails with the reason.
                state.withLock { running -= workers - slot }
                stop(deadline: .now + .seconds(5))
                throw error
            }
        }
    }

    /// At a stop, how long kept connections are still served while their peer keeps them open: a little more than
    /// nginx/orderd.conf lets nginx keep one (1 s idle, 1 s in all). The stop budget counts it.
    package static let keptConnectionDrain: Duration = .seconds(3)

    /// Stops accepting; requests in flight finish, kept connections are served until their peer closes them (at
    /// most `keptConnectionDrain`). Returns false if the threads did not finish before `deadline`.
    @discardableResult
    package func stop(deadline: ContinuousClock.Instant) -> Bool {
        state.withLock {
            stopping = true
            keptDrainEnd = min(.now + Self.keptConnectionDrain, deadline)
        }
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWriteFD, &byte, 1)
        // Then the requests handed over: their answers come from other threads (the store's commit).
        let finished = state.withLock { () -> Bool in
            while running > 0 || handedOverCount > 0 {
                if !state.wait(until: deadline) { return running == 0 && handedOverCount == 0 }
            }
            return true
        }
        deadlines.stop()
        if finished {
            for thread in ownedThreads.withLock({ $0 }) { thread.join() }
            state.withLock {
                for request in Array(parked.keys) + spare {
                    FCGX_Free(request, 1)
                    request.deallocate()
                }
                parked.removeAll()
                spare.removeAll()
            }
        }
        return finished
    }

    /// A connection in the epoll set, waiting for its next request.
    private struct Parked {
        /// When it was accepted, for a connection never served yet (its client waits for an answer to a request it
        /// has not sent yet); nil for a kept one.
        let freshSince: ContinuousClock.Instant?
    }

    private enum Work {
        case connection(UnsafeMutablePointer<FCGX_Request>)
        case stop
    }

    private func workerLoop(slot: Int) {
        defer {
            state.withLock {
                running -= 1
                state.broadcast()
            }
        }
        while true {
            guard case .connection(let request) = nextConnection() else { return }
            busyCount.add(1, ordering: .relaxed)  // metrics
            defer { busyCount.subtract(1, ordering: .relaxed) }
            let deadline = ContinuousClock.now.advanced(by: requestTimeout)
            deadlines.arm(slot, fd: request.pointee.ipcFd, deadline: deadline)
            guard FCGX_Accept_r(request) == 0 else {
                // The peer closed or sent garbage before a whole request; libfcgi closed the connection.
                deadlines.disarm(slot)
                recycle(request)
                continue
            }
            // libfcgi's ReadParams stops at the first EOF of the PARAMS stream without checking why: a peer that
            // closed, or a record it refused (wrong version or type), ends the params as if the empty PARAMS record
            // had come, and FCGX_Accept_r succeeds with whatever pairs arrived (none: a "GET /"). The error is left
            // on the input stream; such a request was never sent whole, so it gets no answer (found by the
            // FastCGI fuzzer, FastCGIFuzzTests).
            if case let code = FCGX_GetError(request.pointee.in), code != 0 {
                logger.debug("FastCGI params did not arrive whole; connection closed without an answer", metadata: ["fcgx_error": "\(code)"])
                deadlines.disarm(slot)
                FCGX_Free(request, 1)
                recycle(request)
                continue
            }
            let exchange = FastCGIExchange(request: request, server: self, slot: slot)
            let afterFinish = responder.respond(to: exchange, readDeadline: deadline)
            if handedOverBySlot[slot] {
                // Its answer is another thread's to write, its connection another thread's to give back.
                handedOverBySlot[slot] = false
                continue
            }
            if deadlines.disarm(slot) {
                request.pointee.keepConnection = 0
            }
            // libfcgi closes a connection with a "lingering close": shutdown(), then select() and read() until the
            // peer closes or 2 s pass, which holds this thread (measured: 13% of orderd's CPU per POST). The
            // linger protects TCP data from a reset; on a unix socket the response already sits in nginx's receive
            // queue, so close at once ("detached" is libfcgi's flag for exactly that).
            if isUnixListener { request.pointee.detached = 1 }
            FCGX_Finish_r(request)
            afterFinish?()
            heartbeatCount.add(1, ordering: .relaxed)
            recycle(request)
        }
    }

    /// For `FastCGIExchange.bodyError`: whether the read-deadline watchdog cut this slot's connection.
    func readDeadlinePassed(slot: Int) -> Bool { deadlines.fired(slot) }

    /// `FastCGIExchange.handOver()`, on the request thread of `slot`: the read deadline ends, the request is the
    /// handle's.
    func handOver(slot: Int, request: UnsafeMutablePointer<FCGX_Request>) -> HandedOverRequest {
        if deadlines.disarm(slot) { request.pointee.keepConnection = 0 }
        let handle = HandedOverRequest(request: request, server: self)
        state.withLock { handedOverCount += 1 }
        handedOverBySlot[slot] = true
        return handle
    }

    /// `HandedOverRequest.finish`, on whichever thread answered: what the request thread does after an answer of
    /// its own.
    func finishHandedOver(_ request: UnsafeMutablePointer<FCGX_Request>, then afterFinish: (@Sendable () -> Void)?) {
        if isUnixListener { request.pointee.detached = 1 }  // see workerLoop
        FCGX_Finish_r(request)
        afterFinish?()
        heartbeatCount.add(1, ordering: .relaxed)
        recycle(request)
        state.withLock {
            handedOverCount -= 1
            if handedOverCount == 0 { state.broadcast() }
        }
    }

    /// Parks a kept-alive connection in the epoll set (also while a stop drains the kept ones), or closes it and
    /// returns the struct to the spare list.
    private func recycle(_ request: UnsafeMutablePointer<FCGX_Request>) {
        if request.pointee.ipcFd >= 0 {
            if park(request, fresh: false) { return }
            FCGX_Free(request, 1)
        }
        state.withLock { spare.append(request) }
    }

    /// Puts a connection into the epoll set until it has a request to read. A kept one is refused (false) when
    /// `maxParked` connections are parked already or the server is stopping; a fresh one never is (its client waits
    /// for an answer: the stop serves it, and the accepting thread checked for room before it accepted).
    private func park(_ request: UnsafeMutablePointer<FCGX_Request>, fresh: Bool) -> Bool {
        let parkedNow = state.withLock { () -> Bool in
            guard fresh || hasRoomToPark else { return false }
            parked[request] = Parked(freshSince: fresh ? .now : nil)
            return true
        }
        // From here the epoll set owns it: another thread may take it as soon as it is armed. A fresh fd is not
        // in the set yet (a closed fd leaves it), so it is added without trying to re-arm it first.
        if parkedNow { register(request.pointee.ipcFd, tag: UInt64(UInt(bitPattern: request)), oneShot: true, new: fresh) }
        // A fresh one has a deadline (`closeSilentConnections`), which an idle watchdog would not watch. After it
        // joined `parked`: the watchdog raises its idle flag before it looks there. A kept one has none: the
        // request path parks those without this lock.
        if parkedNow && fresh { deadlines.wakeIfIdle() }
        return parkedNow
    }

    /// Takes a parked connection out of the list, so out of anyone else's reach; false if somebody took it first.
    private func unpark(_ request: UnsafeMutablePointer<FCGX_Request>) -> Bool {
        state.withLock { parked.removeValue(forKey: request) != nil }
    }

    /// What a thread does next at the stop.
    private enum StopStep {
        /// Serve this parked connection, taken out of the list.
        case serve(UnsafeMutablePointer<FCGX_Request>)
        /// Wait for the kept connections' events: their drain has time left.
        case drain
        /// Leave: nothing is owed an answer and the drain is over.
        case done
    }

    /// At the stop: a parked connection that must still be served (never served yet; once the kept connections'
    /// drain is over, also one with bytes to read now, which its event would have brought while it lasted), else
    /// whether the kept ones are still drained. A request handed over counts as a kept connection to drain: its
    /// connection is parked once its answer is written (on another thread), and must then find a thread here.
    private func stopStep() -> StopStep {
        state.withLock {
            let draining = (!parked.isEmpty || handedOverCount > 0) && ContinuousClock.now < keptDrainEnd
            let owed = parked.first { entry in
                entry.value.freshSince != nil || (!draining && Self.hasBytesToRead(entry.key.pointee.ipcFd, within: .zero))
            }
            guard let request = owed?.key else { return draining ? .drain : .done }
            parked[request] = nil
            return .serve(request)
        }
    }

    /// Called by the read-deadline watchdog at each of its checks (every 100 ms while it has something to watch),
    /// off the request threads: shuts the read side of each parked connection accepted more than `requestTimeout`
    /// ago that has sent nothing. Its event then goes to a thread, which reads the end and closes it like any peer
    /// that went away; the connection stays the list's until then, so it is never closed under another thread.
    /// Returns whether a connection that never sent a request is parked: a kept one has no deadline, so with only
    /// those the watchdog may sleep (`park` wakes it for the next fresh one).
    private func closeSilentConnections(at now: ContinuousClock.Instant) -> Bool {
        guard parkedHint.load(ordering: .relaxed) > 0 else { return false }
        let oldest = now - requestTimeout
        let (silent, fresh) = state.withLock { () -> (Int, Bool) in
            var count = 0
            var fresh = false
            for (request, entry) in parked {
                guard let since = entry.freshSince else { continue }
                fresh = true
                guard since < oldest else { continue }
                shutdown(request.pointee.ipcFd, Int32(SHUT_RD))
                count += 1
            }
            return (count, fresh)
        }
        if silent > 0 {
            logger.debug("closing connections that sent no request within server.request_timeout", metadata: ["connections": "\(silent)"])
        }
        return fresh
    }

    /// How long the thread that accepted a connection waits for its first bytes before it parks it (see
    /// `takeFromBacklog`): far longer than nginx takes from its connect to its write, far shorter than a request.
    static let firstBytesWait: Duration = .milliseconds(2)

    /// True when `fd` has bytes (or its end) to read within `wait` (rounded down to whole milliseconds).
    private static func hasBytesToRead(_ fd: Int32, within wait: Duration) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, Int32(wait.millis)) == 1
    }

    /// Read under `state`.
    private var hasRoomToPark: Bool { parked.count < maxParked && (!stopping || ContinuousClock.now < keptDrainEnd) }

    private func roomToPark() -> Bool {
        state.withLock { hasRoomToPark }
    }

    /// A request struct for a connection just accepted.
    private func fresh(_ fd: Int32) -> UnsafeMutablePointer<FCGX_Request> {
        // No FD_CLOEXEC: orderd never executes another program, so the extra fcntl per connection buys nothing.
        let (seconds, attoseconds) = requestTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = freshRequest()
        request.pointee.ipcFd = fd
        // FCGX_Accept_r starts with FCGX_Finish_r, which closes the fd unless keepConnection is set;
        // the BEGIN_REQUEST record then sets it to what the web server asked for.
        request.pointee.keepConnection = 1
        return request
    }

    /// `server.allow_from` at accept, like PHP-FPM's `listen.allowed_clients`. Checked here, on the address
    /// `accept` returns, rather than with libfcgi's `FCGI_WEB_SERVER_ADDRS`: that one takes IPv4 addresses only (no
    /// IPv6, no CIDR blocks), and only works inside libfcgi's own accept, which orderd does not use (it accepts in
    /// `acceptOne`). A refused connection is closed before a byte is read or written, so the
    /// peer learns nothing but that the port is open. Peers without an address (a unix socket) always pass: who
    /// may connect there is whoever may write the socket file (`server.listen_mode`, `server.listen_group`).
    /// Called by the thread holding the listening socket's event.
    private func isAllowed(_ peer: sockaddr_storage) -> Bool {
        guard let address = AllowedPeers.addressBytes(of: peer) else { return true }
        let list = allowed.value
        if list.allows(address) { return true }
        onRefusedPeer?()
        let now = ContinuousClock.now
        if let last = refusalLog, now - last.at < Self.refusalLogInterval {
            refusalLog?.unlogged += 1
        } else {
            var metadata: Logger.Metadata = ["peer": "\(AllowedPeers.text(of: address))", "allow_from": "\(list.text)"]
            if let last = refusalLog, last.unlogged > 0 { metadata["refused_unlogged"] = "\(last.unlogged)" }
            logger.warning("connection refused: peer not in server.allow_from; closed without an answer", metadata: metadata)
            refusalLog = (now, 0)
        }
        return false
    }

    /// Tags of the epoll set's entries that are not parked connections (whose tag is their FCGX_Request's address).
    private static let listenTag: UInt64 = 0
    private static let wakeTag: UInt64 = 1

    /// Adds `fd` to the epoll set, or arms it again (a one-shot entry that was reported stays in the set, disarmed;
    /// an fd that was closed left the set with it, and a new one may have its number).
    private func register(_ fd: Int32, tag: UInt64, oneShot: Bool, new: Bool = false) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | (oneShot ? EPOLLONESHOT.rawValue : 0)
        event.data.u64 = tag
        if new || (epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event) != 0 && errno == ENOENT) {
            if epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) != 0 {
                logger.critical("epoll_ctl ADD failed", metadata: ["fd": "\(fd)", "errno": "\(errno)"])
            }
        }
    }

    private func freshRequest() -> UnsafeMutablePointer<FCGX_Request> {
        if let request = state.withLock({ spare.popLast() }) { return request }
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        // listen_sock -1: libfcgi never accepts on its own. If a connection drops before a whole request,
        // FCGX_Accept_r's retry loop calls accept(-1), gets EBADF and returns instead of blocking.
        FCGX_InitRequest(request, -1, 0)
        return request
    }

    private func nextConnection() -> Work {
        var event = epoll_event()
        while true {
            // A timeout, not -1: an idle thread still shows it is alive (the systemd watchdog reads `heartbeats`).
            var timeout: Int32 = 1_000
            let isStopping = state.withLock { stopping }
            if isStopping {
                switch stopStep() {
                case .serve(let request): return .connection(request)
                case .done: return .stop
                case .drain: timeout = 100  // the drain's end is noticed this soon
                }
            }
            let ready = epoll_wait(epollFD, &event, 1, timeout)
            heartbeatCount.add(1, ordering: .relaxed)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.critical("epoll_wait failed", metadata: ["errno": "\(errno)"])
                usleep(100_000)
                continue
            }
            guard ready == 1 else { continue }
            switch event.data.u64 {
            case Self.wakeTag:
                // The stop: checked at the top. The pipe stays readable, so it leaves the set, or it would wake
                // the threads that drain the kept connections over and over.
                if isStopping { epoll_ctl(epollFD, EPOLL_CTL_DEL, wakeFD, nil) }
                continue
            case Self.listenTag:
                // At the stop the backlog is left to the next process, and the socket stays disarmed.
                if isStopping { continue }
                if let request = takeFromBacklog() { return .connection(request) }
            case let tag:
                // A parked connection with a request (or its end) to read; one-shot, so no other thread got this
                // event, but a thread draining at the stop may have taken the connection already.
                let request = UnsafeMutablePointer<FCGX_Request>(bitPattern: UInt(tag))!
                if unpark(request) { return .connection(request) }
            }
        }
    }

    /// Called by the thread that got the listening socket's event: the connection it serves now, if any. A thread
    /// takes a connection only once it has its request to read; one that has sent nothing joins the set as a kept
    /// one does (a client that connects and sends nothing holds no thread). When the set is full a connection is
    /// served at once.
    ///
    /// - While no connection waits in the set (upstream keepalive off), one connection is accepted and the socket
    ///   armed again at once, so the next connection goes to the next idle thread. nginx writes its request right
    ///   after connecting, but the thread woken for the connection often runs first (about one in five under
    ///   load), so it waits up to `firstBytesWait` for the bytes before it parks the connection: parking it cost an
    ///   epoll round trip and another thread's wake-up, about 5 µs more per order measured over all orders.
    /// - While connections wait in the set (kept ones, with upstream keepalive), what waits in the backlog (up to
    ///   one connection per request thread) is taken at once, every connection but the one served joining the set,
    ///   so that new connections take their turns one by one among the kept ones instead of the listening socket
    ///   getting one turn among them all (the long tail at 64 connections with keepalive).
    private func takeFromBacklog() -> UnsafeMutablePointer<FCGX_Request>? {
        if parkedHint.load(ordering: .relaxed) == 0 {
            let fd = acceptOne()
            register(listenFD, tag: Self.listenTag, oneShot: true)  // the next connection may go to another thread
            guard let fd else { return nil }
            let request = fresh(fd)
            if Self.hasBytesToRead(fd, within: Self.firstBytesWait) || !roomToPark() { return request }
            _ = park(request, fresh: true)
            return nil
        }
        var direct: UnsafeMutablePointer<FCGX_Request>?
        for taken in 0..<workers {
            // Only what the set has room for: a connection accepted is served or parked, never dropped.
            if taken > 0 && !roomToPark() { break }
            guard let fd = acceptOne() else { break }
            let request = fresh(fd)
            if direct == nil && (Self.hasBytesToRead(fd, within: .zero) || !roomToPark()) {
                direct = request
            } else {
                _ = park(request, fresh: true)
            }
        }
        register(listenFD, tag: Self.listenTag, oneShot: true)  // the next connections may go to another thread
        return direct
    }

    /// One connection from the listening socket, or nil (none waiting, a peer refused, or an error backed off).
    /// Called by the thread holding the listening socket's one-shot event, before it is armed again.
    private func acceptOne() -> Int32? {
        var peer = sockaddr_storage()
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &peerLength) }
        }
        if fd < 0 {
            switch errno {
            case EAGAIN, EINTR, ECONNABORTED, EPROTO: break
            default:
                // EMFILE/ENFILE/ENOBUFS: back off instead of spinning; the connection waits in the backlog.
                logger.error("accept failed", metadata: ["errno": "\(errno)", "reason": "\(String(cString: strerror(errno)))"])
                usleep(50_000)
            }
            return nil
        }
        if !isAllowed(peer) {
            close(fd)
            return nil
        }
        return fd
    }
}
