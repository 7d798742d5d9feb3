import Glibc
import Logging
import Testing
import TestSupport

// @testable: these tests drive an internal: OrderdFastCGI (ReadDeadlines).
@testable import OrderdFastCGI

/// The read-deadline watchdog sleeps while it has nothing to watch: a deadline armed, or a silent connection
/// parked, while it sleeps must still be acted on.
@Suite struct ReadDeadlinesTests {
    @Test func aDeadlineArmedWhileTheWatchdogSleepsStillCutsTheRead() async throws {
        var ends: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        defer {
            close(ends[0])
            close(ends[1])
        }
        let deadlines = ReadDeadlines(slots: 2, checkEvery: .milliseconds(10))
        deadlines.start { _ in false }
        defer { deadlines.stop() }
        #expect(await pollUntil(.seconds(20)) { deadlines.isIdle })

        deadlines.arm(1, fd: ends[0], deadline: .now + .milliseconds(50))
        #expect(await pollUntil(.seconds(20)) { deadlines.fired(1) })
        // The read side is cut: a read returns the end at once, though the peer still has its end open.
        var byte: UInt8 = 0
        #expect(recv(ends[0], &byte, 1, Int32(MSG_DONTWAIT)) == 0)
        #expect(deadlines.disarm(1))
        // Nothing armed again: it goes back to sleep.
        #expect(await pollUntil(.seconds(20)) { deadlines.isIdle })
    }

    @Test func aSilentConnectionParkedWhileTheWatchdogSleepsIsStillClosed() async throws {
        let listener = try listenOnLoopback()
        defer { close(listener.fd) }
        let server = FastCGIServer(
            listenFD: listener.fd, workers: 1, requestTimeout: .milliseconds(200), responder: NoAnswer(),
            logger: Logger(label: "fastcgi-tests", factory: { _ in SwiftLogNoOpLogHandler() }))
        try server.start()
        #expect(await pollUntil(.seconds(20)) { server.readDeadlinesIdle })

        // A client that connects and sends nothing: parked, then closed once request_timeout has passed.
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(client >= 0)
        defer { close(client) }
        var address = loopback(port: listener.port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(connected == 0)
        #expect(await pollUntil(.seconds(20)) { Self.peerClosed(client) }, "the silent connection was never closed")
        #expect(await pollUntil(.seconds(20)) { server.readDeadlinesIdle })
        #expect(server.stop(deadline: .now + .seconds(20)))
    }

    /// Whether `fd` reads its end now (the peer closed it).
    private static func peerClosed(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 0) == 1 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0
    }
}

private struct NoAnswer: FastCGIResponder {
    func respond(to exchange: borrowing FastCGIExchange, readDeadline: ContinuousClock.Instant) -> (@Sendable () -> Void)? {
        Issue.record("no request was sent")
        return nil
    }
}

private func loopback(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}

/// A TCP socket listening on 127.0.0.1 at a port the kernel picks.
private func listenOnLoopback() throws -> (fd: Int32, port: UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    var address = loopback(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    if !bound { close(fd) }
    try #require(bound)
    return (fd, UInt16(bigEndian: address.sin_port))
}
