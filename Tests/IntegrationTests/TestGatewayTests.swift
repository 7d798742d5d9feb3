import Foundation
import OrderdSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The loopback test gateway (`scripts/test-gateway.py` via `TestGateway`) behaves as told and records what it got.
@Suite(.timeLimit(.minutes(10)))
struct TestGatewayTests {
    static let sms = #"{"to":"+15550100","text":"Order 42 shipped","order_id":"ord-42"}"#

    static func post(
        _ gateway: TestGateway, _ body: String = sms, key: String? = nil, path: String = "/sms", headers: [String] = []
    ) -> [UInt8] {
        var head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
        if let key { head += "Idempotency-Key: \(key)\r\n" }
        for header in headers { head += header + "\r\n" }
        head += "Content-Length: \(body.utf8.count)\r\n\r\n"
        return Array((head + body).utf8)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// A gateway that requires a header answers 401 without it or with another value, whatever its mode; a
    /// `/hook` delivery is checked with scripts/verify-webhook.py against the secret, other paths are not.
    @Test func refusesAMissingOrWrongHeaderAndABadSignature() throws {
        // key: nil: the harness's API key is for orderd, not for the gateway.
        let gateway = try TestGateway.start(requireHeader: "Authorization: Bearer right")
        defer { gateway.stop() }
        #expect(try RawHTTP.send(Self.post(gateway), port: gateway.port, key: nil).status == 401)
        #expect(try RawHTTP.send(Self.post(gateway, headers: ["Authorization: Bearer wrong"]), port: gateway.port, key: nil).status == 401)
        #expect(try RawHTTP.send(Self.post(gateway, headers: ["Authorization: Bearer right"]), port: gateway.port, key: nil).status == 200)
        try gateway.requireHeader("X-Api-Key: k2")
        #expect(try RawHTTP.send(Self.post(gateway, headers: ["Authorization: Bearer right"]), port: gateway.port, key: nil).status == 401)
        #expect(try RawHTTP.send(Self.post(gateway, headers: ["X-Api-Key: k2"]), port: gateway.port, key: nil).status == 200)
        try gateway.requireHeader(nil)
        #expect(try RawHTTP.send(Self.post(gateway), port: gateway.port, key: nil).status == 200)
        let auth = try gateway.received().map { $0.auth ?? "-" }
        #expect(auth == ["missing", "wrong", "ok", "missing", "ok", "-"])

        // Unsigned, and signed with another secret: refused; paths other than /hook are not checked.
        let body = #"{"id":"x"}"#
        #expect(try RawHTTP.send(Self.post(gateway, body, path: "/hook"), port: gateway.port, key: nil).status == 401)
        let forged = "t=\(Int(Date().timeIntervalSince1970)),v1=" + String(repeating: "0", count: 64)
        #expect(try RawHTTP.send(Self.post(gateway, body, path: "/hook", headers: ["X-Orderd-Signature: \(forged)"]), port: gateway.port, key: nil).status == 401)
        #expect(try RawHTTP.send(Self.post(gateway, body, path: "/hooks/orders"), port: gateway.port, key: nil).status == 200)
        let stats = try gateway.stats()
        #expect(stats.authFailures == 3 && stats.signatureFailures == 2)
        let signatures = try gateway.received(since: 6).map { $0.signature ?? "-" }
        #expect(signatures == ["missing", "invalid", "-"])
    }

    @Test func behavesAsToldAndRecords() throws {
        let gateway = try TestGateway.start()
        defer { gateway.stop() }
        #expect(gateway.url == "http://127.0.0.1:\(gateway.port)/sms")

        // ok: the same delivery twice is answered twice and recorded twice, as a duplicate.
        for _ in 0..<2 {
            let response = try RawHTTP.send(Self.post(gateway, key: "key-1"), port: gateway.port)
            #expect(response.status == 200)
            #expect(response.json?["status"] as? String == "sent")
        }
        let deliveries = try gateway.received()
        #expect(deliveries.count == 2)
        #expect(deliveries.map(\.seq) == [1, 2])
        for delivery in deliveries {
            #expect(delivery.path == "/sms")
            #expect(delivery.idempotencyKey == "key-1")
            #expect(delivery.to == "+15550100")
            #expect(delivery.text == "Order 42 shipped")
            #expect(delivery.orderID == "ord-42")
            #expect(delivery.answered == 200)
            #expect(abs(delivery.receivedAt - Date().timeIntervalSince1970) < 60)
        }
        var stats = try gateway.stats()
        #expect(stats.count == 2)
        #expect(stats.distinctKeys == 1)
        #expect(stats.duplicates == 1)
        #expect(stats.byPath == ["/sms": 2])

        // fail: 503 by default, or the status asked for.
        try gateway.setMode(.fail)
        #expect(try RawHTTP.send(Self.post(gateway, key: "key-2"), port: gateway.port).status == 503)
        try gateway.setMode(.fail, status: 500)
        #expect(try RawHTTP.send(Self.post(gateway), port: gateway.port).status == 500)

        // slow: ok after the delay.
        try gateway.setMode(.ok, delay: .milliseconds(500))
        var started = ContinuousClock.now
        #expect(try RawHTTP.send(Self.post(gateway), port: gateway.port).status == 200)
        #expect(Self.seconds(since: started) >= 0.5)

        // hang: a client with a 1 s timeout gives up, and the gateway keeps serving others meanwhile.
        try gateway.setMode(.hang)
        started = ContinuousClock.now
        #expect(throws: RawHTTP.Failure.self) {
            try RawHTTP.send(Self.post(gateway), port: gateway.port, timeout: .seconds(1))
        }
        let waited = Self.seconds(since: started)
        #expect(waited >= 0.9, "timed out after \(waited) s")

        // close: the connection ends without a byte of response (a read that timed out instead would throw).
        try gateway.setMode(.close)
        #expect(try RawHTTP.sendReceivingBytes(Self.post(gateway), port: gateway.port, timeout: .seconds(5)).isEmpty)

        let all = try gateway.received()
        #expect(all.map(\.answered) == [200, 200, 503, 500, 200, nil, nil])
        #expect(try gateway.received(since: 5).map(\.seq) == [6, 7])
        stats = try gateway.stats()
        #expect(stats.count == 7)
        #expect(stats.byStatus == ["200": 3, "503": 1, "500": 1, "none": 2])

        // stopped: connections are refused; the record file still tells what arrived.
        gateway.stop()
        gateway.stop()
        do {
            _ = try RawHTTP.send(Self.post(gateway), port: gateway.port, timeout: .seconds(2))
            Issue.record("a stopped gateway answered")
        } catch let failure as RawHTTP.Failure {
            #expect(failure.description.contains("errno \(ECONNREFUSED)"), "\(failure)")
        }
        let recorded = try gateway.recorded()
        #expect(recorded.map(\.seq) == Array(1...7))
        #expect(recorded.map(\.idempotencyKey) == ["key-1", "key-1", "key-2", nil, nil, nil, nil])
    }

    @Test func flakyResetAndNonJSONBodies() throws {
        let gateway = try TestGateway.start(mode: .flaky)
        defer { gateway.stop() }
        let statuses = try (0..<6).map { n in
            try RawHTTP.send(Self.post(gateway, #"{"n":\#(n),"nested":{"ok":true,"x":1.5},"list":[null,"a"]}"#, path: "/hooks/orders"),
                             port: gateway.port).status
        }
        #expect(statuses == [200, 503, 200, 503, 200, 503])
        try gateway.setMode(.flaky, failEvery: 3)
        let thirds = try (0..<3).map { _ in try RawHTTP.send(Self.post(gateway), port: gateway.port).status }
        #expect(thirds == [200, 200, 503])

        let first = try #require(gateway.received().first)
        #expect(first.path == "/hooks/orders")
        #expect(first.body["n"] == .number(JSONNumber(0)))
        #expect(first.body["nested"]?["ok"] == .bool(true))
        if case .number(let x)? = first.body["nested"]?["x"] { #expect(x.double == 1.5) } else { Issue.record("nested.x") }
        #expect(first.body["list"] == .array([.null, .string("a")]))

        try gateway.reset()
        #expect(try gateway.received().isEmpty)
        try gateway.setMode(.ok)
        #expect(try RawHTTP.send(Self.post(gateway, "not json at all"), port: gateway.port).status == 200)
        let plain = try gateway.waitForDeliveries(1)
        #expect(plain.map(\.seq) == [10], "seq keeps counting after a reset")
        #expect(plain.first?.body == .string("not json at all"))
        #expect(try gateway.stats().count == 1)
        #expect(try gateway.recorded().count == 10, "the record file keeps everything")
    }

    /// Many concurrent slow deliveries are served side by side, not one after another: 200 connections each
    /// send a request first, then every answer is read.
    @Test func concurrentSlowDeliveries() throws {
        let gateway = try TestGateway.start(mode: .ok, delay: .seconds(1))
        defer { gateway.stop() }
        let count = 200
        let started = ContinuousClock.now
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        for n in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try #require(fd >= 0)
            sockets.append(fd)
            var tv = timeval(tv_sec: 20, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(gateway.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(connected == 0, "connect \(n): errno \(errno)")
            let request = Self.post(gateway, key: "k-\(n)")
            try #require(request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == request.count)
        }
        var ok = 0
        for fd in sockets {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { break }
                received += buffer[0..<n]
            }
            if (try? RawHTTP.parse(received))?.status == 200 { ok += 1 }
        }
        let elapsed = Self.seconds(since: started)
        #expect(ok == count)
        #expect(elapsed < 8, "\(count) deliveries of 1 s each took \(elapsed) s")
        let stats = try gateway.stats()
        #expect(stats.count == count)
        #expect(stats.distinctKeys == count)
        #expect(stats.duplicates == 0)
    }
}
