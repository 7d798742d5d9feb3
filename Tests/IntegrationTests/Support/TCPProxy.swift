import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on loopback between orderd and PostgreSQL that can fail the way networks do: swallow traffic
/// while keeping connections open (a partition), lose only the answers, or cut every connection at once.
///
/// Plain POSIX sockets, two threads per connection; every wait is a `poll` of at most 100 ms, so a mode change,
/// a cut or `stop` is noticed within that time and no thread outlives `stop` by more.
final class TCPProxy: @unchecked Sendable {
    // @unchecked Sendable: the mutable state is only touched with `lock` held.

    enum Mode: Sendable {
        /// Bytes go both ways.
        case forward
        /// Connections are accepted and read from, in both directions, and nothing is passed on.
        case blackhole
        /// What the client sends reaches the server; what the server answers is dropped.
        case dropAnswers
    }

    let port: Int
    private let targetPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var mode = Mode.forward
    /// Bumped by `cut()`: a connection made in an older generation closes both its ends.
    private var generation = 0
    private var stopped = false
    private var threads = 0
    private var swallowed = 0

    /// Listens on 127.0.0.1 at a free port and forwards to 127.0.0.1:`targetPort`.
    init(targetPort: Int) throws {
        self.targetPort = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTP.Failure(description: "socket() failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok, listen(fd, 128) == 0 else {
            close(fd)
            throw RawHTTP.Failure(description: "the proxy cannot listen: errno \(errno)")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        spawn { [self] in acceptLoop() }
    }

    /// Bytes read and not passed on so far (blackhole and dropped answers).
    var swallowedBytes: Int { lock.withLock { swallowed } }

    func set(_ mode: Mode) { lock.withLock { self.mode = mode } }

    /// Closes every connection open now, both ends, and forwards again.
    func cut() {
        lock.withLock {
            generation += 1
            mode = .forward
        }
    }

    /// Closes everything and waits (at most 5 s) for the proxy's threads to end.
    func stop() {
        lock.withLock {
            stopped = true
            generation += 1
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while lock.withLock({ threads }) > 0 && ContinuousClock.now < deadline { usleep(10_000) }
        close(listener)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return address
    }

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        lock.withLock { threads += 1 }
        let thread = Thread { [self] in
            body()
            lock.withLock { threads -= 1 }
        }
        thread.start()
    }

    /// True when `fd` has something to read (or hung up) within 100 ms.
    private static func readable(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 100) > 0
    }

    private func acceptLoop() {
        while !lock.withLock({ stopped }) {
            guard Self.readable(listener) else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            let (current, blackholed) = lock.withLock { (generation, mode == .blackhole) }
            // A partition: the connection is accepted and its bytes read, and the server never hears of it.
            var server: Int32 = -1
            if !blackholed {
                server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = Self.loopback(port: targetPort)
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                if connected != 0 {
                    close(server)
                    close(client)
                    continue
                }
            }
            let pair = Pair(client: client, server: server)
            spawn { [self] in pump(pair, fromClient: true, generation: current) }
            spawn { [self] in pump(pair, fromClient: false, generation: current) }
        }
    }

    /// One direction of one connection, until either end closes, the connection is cut or the proxy stops.
    private func pump(_ pair: Pair, fromClient: Bool, generation mine: Int) {
        defer { pair.release() }
        let source = fromClient ? pair.client : pair.server
        let destination = fromClient ? pair.server : pair.client
        guard source >= 0 else {
            // The missing server side of a blackholed connection: wait for the cut like the other side.
            while lock.withLock({ generation == mine }) && !pair.isClosed { usleep(100_000) }
            return
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while lock.withLock({ generation == mine }) && !pair.isClosed {
            guard Self.readable(source) else { continue }
            let count = recv(source, &buffer, buffer.count, 0)
            guard count > 0 else { return }
            let mode = lock.withLock { self.mode }
            let pass = destination >= 0 && (mode == .forward || (mode == .dropAnswers && fromClient))
            guard pass else {
                lock.withLock { swallowed += count }
                continue
            }
            var offset = 0
            while offset < count {
                let sent = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + offset, count - offset, Int32(MSG_NOSIGNAL)) }
                guard sent > 0 else { return }
                offset += sent
            }
        }
    }

    /// The two sockets of one proxied connection, closed once both directions have stopped (so that one
    /// direction never closes a descriptor the other still reads, which another thread may have reused).
    private final class Pair: @unchecked Sendable {
        // @unchecked Sendable: `users` and `closing` are only touched with `lock` held.
        let client: Int32
        let server: Int32
        private let lock = NSLock()
        private var users = 2
        private var closing = false

        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }

        var isClosed: Bool { lock.withLock { closing } }

        /// One direction is done: the other one stops too (shutdown wakes its peer), the last one closes.
        func release() {
            let last = lock.withLock {
                closing = true
                users -= 1
                return users == 0
            }
            shutdown(client, Int32(SHUT_RDWR))
            if server >= 0 { shutdown(server, Int32(SHUT_RDWR)) }
            if last {
                close(client)
                if server >= 0 { close(server) }
            }
        }
    }
}
