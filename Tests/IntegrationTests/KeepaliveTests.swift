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

    /// Through nginx as shipped, with 2 request threads. First 16 orders wait for their commit behind another
    /// process's write lock: nginx has 16 connections open at orderd at once, and a request thread is still free
    /// for `GET /healthz`. Once the lock is released all 16 are answered 201, and 16 clients sending 48 requests
    /// each through the connections nginx keeps all get their answer. Outcomes only: how fast they came is
    /// printed, not asserted (a busy machine may be slow). That an idle kept connection holds no thread is
    /// proven without nginx, and without timing, by the next test.
    @Test func keptConnectionsDoNotPinTheRequestThreads() throws {
        let settings = ["server": ["request_workers": "2"], "store": ["busy_timeout": "60s"]]
        try withRunningStack(settings: settings, keepalive: true) { stack in
            let pid = try #require(stack.orderd?.processIdentifier)
            let lock = try SQLiteWriteLock(databasePath: stack.databasePath)
            let waiting = DispatchGroup()
            let firstStatuses = Locked<[Int]>([])
            for client in 0..<16 {
                waiting.enter()
                Thread {
                    let response = try? RawHTTP.json("POST", "/orders", port: stack.port, body: OrdersIntegrationTests.orderJSON(note: "ka-wait-\(client)"))
                    firstStatuses.mutate { $0.append(response?.status ?? 0) }
                    waiting.leave()
                }.start()
            }
            // 16 connections and the listening socket.
            #expect(FollowUpIntegrationTests.eventually { Self.sockets(of: pid) >= 17 }, "sockets at orderd: \(Self.sockets(of: pid))")
            #expect(try RawHTTP.request("GET", "/healthz", port: stack.port).status == 200, "a request thread is free meanwhile")
            try lock.release()
            waiting.wait()
            #expect(firstStatuses.value == Array(repeating: 201, count: 16))

            struct Sample { var status: Int; var seconds: Double }
            let samples = Locked<[Sample]>([])
            DispatchQueue.concurrentPerform(iterations: 16) { client in
                for n in 1...48 {
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
            let all = samples.value
            let sorted = all.map(\.seconds).sorted()
            let p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
            print("keepalive: \(all.count) requests through 2 threads, p99 \(p99) s, slowest \(sorted.last ?? 0) s")
            #expect(all.count == 16 * 48)
            #expect(all.allSatisfy { $0.status == 200 || $0.status == 201 }, "every request answered: \(Set(all.map(\.status)))")
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
