import Foundation
import Testing

/// nginx upstream keepalive (`keepalive 16` + `fastcgi_keep_conn on`) against orderd with fewer request
/// threads than kept connections: plain threaded libfcgi pins a thread to every kept connection and stalls
/// (measured here: p99 of seconds, whole runs with nothing served); orderd parks idle connections instead.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct KeepaliveTests {
    /// Sockets the process has open (its listening socket among them).
    static func sockets(of pid: pid_t) -> Int {
        ProcessProbe.fdTargets(pid).filter { $0.hasPrefix("socket:") }.count
    }

    @Test func keptConnectionsDoNotPinTheRequestThreads() throws {
        try withRunningStack(settings: ["server": ["request_workers": "2"]], keepalive: true) { stack in
            struct Sample { var status: Int; var seconds: Double }
            let samples = Locked<[Sample]>([])
            let stopAt = ContinuousClock.now + .seconds(3)
            let pid = try #require(stack.orderd?.processIdentifier)
            // nginx really keeps its connections: they stay open at orderd, parked, while the load runs (counted
            // during it: nginx closes an idle kept connection after 1 s, nginx/orderd.conf).
            let mostSockets = Locked(0)
            let sampler = DispatchGroup()
            DispatchQueue.global().async(group: sampler) {
                while ContinuousClock.now < stopAt {
                    let now = Self.sockets(of: pid)
                    mostSockets.mutate { $0 = max($0, now) }
                    usleep(50_000)
                }
            }
            DispatchQueue.concurrentPerform(iterations: 16) { client in
                var n = 0
                while ContinuousClock.now < stopAt {
                    n += 1
                    let started = ContinuousClock.now
                    let response: RawHTTPResponse?
                    if n % 2 == 0 {
                        response = try? RawHTTP.request("GET", "/healthz", port: stack.port)
                    } else {
                        response = try? RawHTTP.json("POST", "/orders", port: stack.port, body: OrdersIntegrationTests.orderJSON(note: "ka-\(client)-\(n)"))
                    }
                    let elapsed = ContinuousClock.now - started
                    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                    samples.mutate { $0.append(Sample(status: response?.status ?? 0, seconds: seconds)) }
                }
            }
            sampler.wait()
            let all = samples.value
            let slowest = all.map(\.seconds).max() ?? 0
            let sorted = all.map(\.seconds).sorted()
            let p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
            print("keepalive: \(all.count) requests through 2 threads and 32 kept connections, p99 \(p99) s, slowest \(slowest) s")
            #expect(all.count > 200, "requests kept being served")
            #expect(all.allSatisfy { $0.status == 200 || $0.status == 201 }, "every request answered: \(Set(all.map(\.status)))")
            #expect(p99 < 1.0, "no request waits behind an idle kept connection (p99 \(p99) s)")
            #expect(mostSockets.value > 4, "kept connections at orderd: at most \(mostSockets.value - 1) at once")
        }
    }

    /// Straight over FastCGI, without nginx: four times as many kept connections as request threads. Each
    /// connection's next request is answered while the others sit open and idle, in whatever order they come;
    /// a new connection is still accepted beside them; and a stop with connections parked ends cleanly and
    /// closes them. A thread pinned to a kept connection (libfcgi's own loop) would leave the third connection's
    /// first request unanswered.
    @Test func everyKeptConnectionIsServedAgainAndAStopClosesTheParkedOnes() throws {
        let stack = try Stack(settings: ["server": ["request_workers": "2"]])
        defer { stack.shutdown() }
        try stack.start()
        func ask(_ client: FastCGIClient, _ uri: String) throws -> Int {
            try client.send(FastCGIClient.wholeRequest(FastCGIClient.httpParams(method: "GET", uri: uri), keepConnection: true))
            return try client.readResponse().status
        }
        let clients = try (0..<8).map { _ in try FastCGIClient(socketPath: stack.socketPath) }
        for client in clients { #expect(try ask(client, "/healthz") == 200) }
        for client in clients.reversed() { #expect(try ask(client, "/orders/none") == 404) }
        for client in clients.enumerated().filter({ $0.offset % 2 == 0 }).map(\.element) { #expect(try ask(client, "/healthz") == 200) }
        let fresh = try FastCGIClient(socketPath: stack.socketPath)
        #expect(try ask(fresh, "/healthz") == 200)
        #expect(stack.stopOrderd(signal: SIGTERM, timeout: .seconds(10)) == 0)
        for client in clients + [fresh] {
            #expect(client.readUntilClosed().end == 0, "the stop closed the parked connection")
        }
    }

    /// Clients that connect and send nothing hold no request thread: with twice as many silent connections open
    /// as there are threads (and a request timeout far longer than the client waits), a request on a later
    /// connection is answered, and each silent one is served once it speaks. A thread that took the oldest
    /// connection in the backlog and read from it would sit there until the request timeout.
    @Test func silentConnectionsHoldNoThread() throws {
        let stack = try Stack(settings: ["server": ["request_workers": "2", "request_timeout": "300s"]])
        defer { stack.shutdown() }
        try stack.start()
        let request = FastCGIClient.wholeRequest(FastCGIClient.httpParams(method: "GET", uri: "/healthz"))
        let silent = try (0..<4).map { _ in try FastCGIClient(socketPath: stack.socketPath) }
        let client = try FastCGIClient(socketPath: stack.socketPath)
        try client.send(request)
        #expect(try client.readResponse().status == 200)
        for connection in silent {
            try connection.send(request)
            #expect(try connection.readResponse().status == 200)
        }
    }

    /// A connection that sends nothing waits in the epoll set only as long as a request may take to arrive
    /// (`server.request_timeout`), then orderd closes it, while the other connections are served. Parked
    /// connections without that limit would stay open until the client's own read timeout (20 s) ends the wait
    /// here with EAGAIN instead of the orderly close.
    @Test func aSilentConnectionIsClosedAfterTheRequestTimeout() throws {
        let stack = try Stack(settings: ["server": ["request_workers": "2", "request_timeout": "1s"]])
        defer { stack.shutdown() }
        try stack.start()
        let silent = try (0..<3).map { _ in try FastCGIClient(socketPath: stack.socketPath) }
        let client = try FastCGIClient(socketPath: stack.socketPath)
        try client.send(FastCGIClient.wholeRequest(FastCGIClient.httpParams(method: "GET", uri: "/healthz")))
        #expect(try client.readResponse().status == 200)
        for connection in silent {
            let (bytes, end) = connection.readUntilClosed()
            #expect(end == 0 && bytes.isEmpty, "closed without an answer, before the client gave up: end \(end), \(bytes.count) bytes")
        }
    }

    /// A stop serves every connection orderd accepted that is waiting for its request, even one whose request
    /// arrives after the signal: its client connected and is owed an answer (nginx answers 502 when a
    /// connection it wrote a request to is closed). Connections never accepted stay in the listening socket's
    /// backlog for the next process, and a kept connection its peer leaves open is closed once the stop's drain
    /// of kept connections (`FastCGIServer.keptConnectionDrain`) is over.
    @Test func aStopAnswersTheConnectionsItAccepted() throws {
        let stack = try Stack(settings: ["server": ["request_workers": "2"]])
        defer { stack.shutdown() }
        try stack.start()
        let pid = try #require(stack.orderd?.processIdentifier)
        func sockets() -> Int { Self.sockets(of: pid) }
        let kept = try FastCGIClient(socketPath: stack.socketPath)
        try kept.send(FastCGIClient.wholeRequest(FastCGIClient.httpParams(method: "GET", uri: "/healthz"), keepConnection: true))
        #expect(try kept.readResponse().status == 200)
        let before = sockets()
        let waiting = try FastCGIClient(socketPath: stack.socketPath)
        let silent = try FastCGIClient(socketPath: stack.socketPath)
        // Both accepted (an outcome to wait for, bounded): they are orderd's now, not the backlog's.
        let acceptedBy = ContinuousClock.now + .seconds(20)
        while sockets() < before + 2 && ContinuousClock.now < acceptedBy { usleep(10_000) }
        try #require(sockets() >= before + 2, "orderd accepted both connections")
        kill(pid, SIGTERM)
        try waiting.send(FastCGIClient.wholeRequest(FastCGIClient.httpParams(method: "GET", uri: "/orders/none")))
        #expect(try waiting.readResponse().status == 404, "the request sent after the signal was answered")
        silent.halfClose()  // a client that gives up: its connection ends without a request
        #expect(kept.readUntilClosed().end == 0, "the stop closed the kept connection")
        #expect(stack.stopOrderd(signal: SIGTERM, timeout: .seconds(20)) == 0)
    }

    /// A stop goes on serving the kept connections while their peer keeps them open, and the process exits once the
    /// peer has closed them. nginx closes its own within a second (nginx/orderd.conf); a request it writes to one
    /// meanwhile is answered, where a stop that closed them at once could cross it (and nginx does not resend a
    /// POST: the client gets a 502). The old stop closed them at the signal: the requests after it failed.
    @Test func aStopServesKeptConnectionsUntilTheirPeerClosesThem() throws {
        let stack = try Stack(settings: ["server": ["request_workers": "2"]])
        defer { stack.shutdown() }
        try stack.start()
        let pid = try #require(stack.orderd?.processIdentifier)
        func ask(_ client: FastCGIClient) throws -> Int {
            try client.send(FastCGIClient.wholeRequest(FastCGIClient.httpParams(method: "GET", uri: "/healthz"), keepConnection: true))
            return try client.readResponse().status
        }
        let kept = try (0..<3).map { _ in try FastCGIClient(socketPath: stack.socketPath) }
        for client in kept { #expect(try ask(client) == 200) }
        kill(pid, SIGTERM)
        for round in 0..<2 {
            usleep(100_000)
            for client in kept { #expect(try ask(client) == 200, "round \(round) after the signal: answered on the kept connection") }
        }
        for client in kept { client.halfClose() }  // the peer closes them, as nginx does
        for client in kept { #expect(client.readUntilClosed().end == 0, "orderd closed its end after the peer's") }
        #expect(stack.stopOrderd(signal: SIGTERM, timeout: .seconds(20)) == 0)
    }
}
