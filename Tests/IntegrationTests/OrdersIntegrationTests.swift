import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Orders through the real nginx and the real SQLite file: durability across SIGKILL, idempotency under
/// concurrency, graceful stop with a request in flight, slow bodies.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct OrdersIntegrationTests {
    static func orderJSON(note: String, quantity: Int = 2) -> String {
        #"{"customer":{"phone":"+8613800138000","email":"li@example.com"},"currency":"CNY","items":[{"sku":"SKU-1","quantity":\#(quantity),"unit_price_cents":1299}],"note":"\#(note)"}"#
    }

    static func sqlite(_ database: String, _ sql: String) throws -> String {
        try Stack.run("/usr/bin/sqlite3", [database, sql]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func createdOrderReadsBackWithEveryField() throws {
        try withRunningStack { stack in
            let created = try RawHTTP.json("POST", "/orders", port: stack.port, body: Self.orderJSON(note: "first"))
            #expect(created.status == 201)
            let body = try #require(created.json)
            let id = try #require(body["id"] as? String)
            #expect(created.header("location") == "/orders/\(id)")
            #expect(body["status"] as? String == "created")
            #expect(body["total_cents"] as? Int == 2598)
            let fetched = try RawHTTP.request("GET", "/orders/\(id)", port: stack.port)
            #expect(fetched.status == 200)
            let full = try #require(fetched.json)
            #expect(full["created_at"] as? String == body["created_at"] as? String)
            #expect(full["note"] as? String == "first")
            #expect((full["customer"] as? [String: Any])?["email"] as? String == "li@example.com")
            let items = try #require(full["items"] as? [[String: Any]])
            #expect(items.count == 1 && items[0]["sku"] as? String == "SKU-1" && items[0]["quantity"] as? Int == 2)
        }
    }

    @Test func concurrentRequestsWithOneIdempotencyKeyCreateOneOrder() throws {
        try withRunningStack(settings: ["server": ["request_workers": "8"]]) { stack in
            let count = 32
            let body = Self.orderJSON(note: "idem-concurrent")
            let results = Locked<[RawHTTPResponse]>([])
            DispatchQueue.concurrentPerform(iterations: count) { _ in
                if let response = try? RawHTTP.json("POST", "/orders", port: stack.port, body: body, headers: [("Idempotency-Key", "key-42")]) {
                    results.mutate { $0.append(response) }
                }
            }
            let responses = results.value
            #expect(responses.count == count)
            #expect(responses.allSatisfy { $0.status == 201 })
            #expect(Set(responses.map(\.body)).count == 1, "every answer carries the same body")
            #expect(responses.filter { $0.header("idempotent-replayed") == nil }.count == 1)
            #expect(try Self.sqlite(stack.databasePath, "SELECT count(*) FROM orders WHERE note = 'idem-concurrent'") == "1")

            let other = try RawHTTP.json("POST", "/orders", port: stack.port, body: Self.orderJSON(note: "different"), headers: [("Idempotency-Key", "key-42")])
            #expect(other.status == 409)
            #expect(other.errorCode == "idempotency_conflict")
        }
    }

    @Test func everyAcknowledgedOrderSurvivesSIGKILL() throws {
        let stack = try Stack(settings: ["store": ["synchronous": "full"], "server": ["request_workers": "8"]])
        defer { stack.shutdown() }
        try stack.start()
        struct Outcome { var note: String; var response: RawHTTPResponse? }
        let outcomes = Locked<[Outcome]>([])
        let stopAt = ContinuousClock.now + .seconds(3)
        let killer = Thread {
            usleep(1_200_000)
            stack.stopOrderd(signal: SIGKILL, timeout: .seconds(5))
        }
        killer.start()
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            var n = 0
            while ContinuousClock.now < stopAt {
                n += 1
                let note = "crash-\(worker)-\(n)"
                let response = try? RawHTTP.json("POST", "/orders", port: stack.port, body: Self.orderJSON(note: note))
                outcomes.mutate { $0.append(Outcome(note: note, response: response)) }
            }
        }
        while stack.orderd != nil { usleep(10_000) }
        try stack.startOrderd()
        try stack.waitForHealth()

        let all = outcomes.value
        let acknowledged = all.filter { $0.response?.status == 201 }
        let refusedByOrderd = all.filter {
            guard let response = $0.response, response.status != 201 else { return false }
            return response.status < 500 || response.errorCode == "unavailable"
        }
        print("crash test: \(all.count) requests, \(acknowledged.count) acknowledged, \(refusedByOrderd.count) refused by orderd, \(all.count - acknowledged.count - refusedByOrderd.count) cut by the kill")
        #expect(acknowledged.count > 50, "the load ran before the kill")
        #expect(all.count > acknowledged.count, "the kill happened under load")
        for outcome in acknowledged {
            let created = try #require(outcome.response?.json)
            let id = try #require(created["id"] as? String)
            let fetched = try RawHTTP.request("GET", "/orders/\(id)", port: stack.port)
            #expect(fetched.status == 200, "acknowledged order \(id) is missing after the crash")
            let full = try #require(fetched.json)
            for key in ["id", "status", "currency", "created_at"] {
                #expect(full[key] as? String == created[key] as? String)
            }
            #expect(full["total_cents"] as? Int == created["total_cents"] as? Int)
            #expect(full["note"] as? String == outcome.note)
        }
        for outcome in refusedByOrderd {
            #expect(try Self.sqlite(stack.databasePath, "SELECT count(*) FROM orders WHERE note = '\(outcome.note)'") == "0")
        }
    }

    @Test func sigtermLetsTheRequestInFlightFinish() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        try stack.start()
        let body = Array(Self.orderJSON(note: "in-flight").utf8)
        let client = try FastCGIClient(socketPath: stack.socketPath)
        try client.send(
            FastCGIClient.beginRequest()
                + FastCGIClient.params(FastCGIClient.httpParams(method: "POST", uri: "/orders", contentType: "application/json", contentLength: body.count))
                + FastCGIClient.record(.stdin, Array(body.prefix(40)))
        )
        usleep(300_000)  // the request thread is now blocked reading the rest of the body
        let pid = try #require(stack.orderd?.processIdentifier)
        kill(pid, SIGTERM)
        usleep(300_000)
        #expect(stack.orderd?.isRunning == true, "orderd waits for the request in flight")
        try client.send(FastCGIClient.record(.stdin, Array(body.dropFirst(40))) + FastCGIClient.record(.stdin, []))
        let response = try client.readResponse()
        #expect(response.status == 201)
        let id = try #require(response.json?["id"] as? String)
        let status = stack.stopOrderd(signal: SIGTERM, timeout: .seconds(10))
        #expect(status == 0)
        #expect(try Self.sqlite(stack.databasePath, "SELECT count(*) FROM orders WHERE id = '\(id)'") == "1")
        // And nothing new is accepted after the stop began.
        #expect((try? FastCGIClient(socketPath: stack.socketPath)) == nil)
    }

    @Test func aStalledBodyIsCutAtTheRequestTimeout() throws {
        try withRunningStack(settings: ["server": ["request_timeout": "1s"]]) { stack in
            let client = try FastCGIClient(socketPath: stack.socketPath)
            let started = ContinuousClock.now
            try client.send(
                FastCGIClient.beginRequest()
                    + FastCGIClient.params(FastCGIClient.httpParams(method: "POST", uri: "/orders", contentType: "application/json", contentLength: 200))
                    + FastCGIClient.record(.stdin, Array("{\"customer\":".utf8))
            )
            let response = try client.readResponse()
            let elapsed = ContinuousClock.now - started
            // 408 request_timeout: cut by orderd's read deadline (nothing else answers it), never before it.
            #expect(response.status == 408)
            #expect(response.errorCode == "request_timeout")
            #expect(elapsed >= .seconds(1), "cut after \(elapsed)")
            // The thread is free again: a normal request still succeeds.
            #expect(try RawHTTP.request("GET", "/healthz", port: stack.port).status == 200)
        }
    }
}

/// A value shared by test threads.
final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()

    init(_ value: Value) { stored = value }

    var value: Value { lock.withLock { stored } }

    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
