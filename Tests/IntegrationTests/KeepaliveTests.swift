import Foundation
import Testing

/// nginx upstream keepalive (`keepalive 16` + `fastcgi_keep_conn on`) against orderd with fewer request
/// threads than kept connections: plain threaded libfcgi pins a thread to every kept connection and stalls
/// (measured here: p99 of seconds, whole runs with nothing served); orderd parks idle connections instead.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct KeepaliveTests {
    @Test func keptConnectionsDoNotPinTheRequestThreads() throws {
        try withRunningStack(settings: ["server": ["request_workers": "2"]], keepalive: true) { stack in
            struct Sample { var status: Int; var seconds: Double }
            let samples = Locked<[Sample]>([])
            let stopAt = ContinuousClock.now + .seconds(3)
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
            let all = samples.value
            let slowest = all.map(\.seconds).max() ?? 0
            let sorted = all.map(\.seconds).sorted()
            let p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
            print("keepalive: \(all.count) requests through 2 threads and 32 kept connections, p99 \(p99) s, slowest \(slowest) s")
            #expect(all.count > 200, "requests kept being served")
            #expect(all.allSatisfy { $0.status == 200 || $0.status == 201 }, "every request answered: \(Set(all.map(\.status)))")
            #expect(p99 < 1.0, "no request waits behind an idle kept connection (p99 \(p99) s)")
            // nginx really kept its connections: they stay open at orderd, parked, after the load.
            let pid = try #require(stack.orderd?.processIdentifier)
            let sockets = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").filter {
                ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) ?? "").hasPrefix("socket:")
            }
            #expect(sockets.count > 4, "kept connections parked at orderd: \(sockets.count - 1)")
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
}
