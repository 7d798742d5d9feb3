import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

extension PostgresIntegrationTests {
    /// What one order request got: an answer (any), or nil when the client gave up (a hang).
    struct Answer: Sendable {
        var key: String
        var body: String
        var status: Int?
        var code: String?
        var message: String?
        var id: String?
    }

    /// A partition between orderd and PostgreSQL under load: a proxy swallows every byte for 5 s, then cuts all
    /// connections mid-statement; later it lets statements through and loses their answers, then cuts again;
    /// last it swallows everything for 1 s and cuts.
    ///
    /// Outcomes only, never timings: every request is answered (the client's 20 s timeout is only a hang guard,
    /// four request_timeouts of 5 s); every 201 is in the database; every other answer is a 503 that either says
    /// nothing was stored, and indeed nothing was, or is `outcome_unknown`, and then a retry with the same
    /// Idempotency-Key gives exactly one order.
    @Test func aPartitionMidLoadLeavesNoRequestWaitingAndNoOutcomeMisreported() throws {
        let direct = try Self.postgresSettings()
        let database = Self.database(of: direct)
        let proxy = try TCPProxy(targetPort: try Self.serverPort())
        defer { proxy.stop() }
        var settings = direct
        settings["store"]!["url"] = "postgres://orderd@127.0.0.1:\(proxy.port)/\(database)?sslmode=disable"
        settings["store"]!["pool_size"] = "8"
        settings["server"] = ["request_workers": "6", "request_timeout": "5s"]

        try withRunningStack(settings: settings) { stack in
            let answers = Locked<[Answer]>([])
            let loading = Locked(true)
            let finished = Locked(0)
            let clients = 6
            let port = stack.port
            for worker in 0..<clients {
                Thread {
                    var n = 0
                    while loading.value {
                        n += 1
                        let key = "partition-\(worker)-\(n)"
                        let body = FollowUpIntegrationTests.orderJSON(key)
                        let answer = Self.send(body, key: key, port: port)
                        answers.mutate { $0.append(answer) }
                    }
                    finished.mutate { $0 += 1 }
                }.start()
            }
            // The partition starts once orders go through (the wait is a hang guard, not a figure).
            let flowing = ContinuousClock.now + .seconds(60)
            while !answers.value.contains(where: { $0.status == 201 }) && ContinuousClock.now < flowing { usleep(50_000) }
            usleep(500_000)
            proxy.set(.blackhole)
            usleep(5_000_000)
            proxy.cut()
            usleep(1_500_000)
            proxy.set(.dropAnswers)
            usleep(1_500_000)
            proxy.cut()
            usleep(1_500_000)
            // A short partition: its statements never arrive, the cut comes while their requests still have
            // time, and the lookup on a fresh connection finds nothing.
            proxy.set(.blackhole)
            usleep(1_000_000)
            proxy.cut()
            usleep(1_500_000)
            loading.mutate { $0 = false }
            // Hang guard only: each client's last request ends within its own 20 s timeout.
            let guardUntil = ContinuousClock.now + .seconds(60)
            while finished.value < clients && ContinuousClock.now < guardUntil { usleep(50_000) }
            #expect(finished.value == clients, "a client still waits for its answer")

            let all = answers.value
            #expect(proxy.swallowedBytes > 0, "the partition swallowed traffic")
            let unanswered = all.filter { $0.status == nil }
            #expect(unanswered.isEmpty, "requests without an answer: \(unanswered.map(\.key))")
            let created = all.filter { $0.status == 201 }
            let failed = all.filter { $0.status != nil && $0.status != 201 }
            #expect(!created.isEmpty)
            // A request whose insert went into the 5 s blackhole cannot have been stored before the cut.
            #expect(!failed.isEmpty, "the partition reached the order path")

            // Every 201 is in the database, once.
            let createdIDs = created.compactMap(\.id)
            #expect(createdIDs.count == created.count)
            if !createdIDs.isEmpty {
                let count = try Self.psql(
                    "SELECT count(*) FROM orders WHERE id IN ('\(createdIDs.joined(separator: "','"))')", database: database)
                #expect(count == "\(createdIDs.count)")
            }

            // Every other answer is a 503: "nothing was stored" (true), or outcome_unknown.
            #expect(failed.allSatisfy { $0.status == 503 }, "statuses: \(Set(failed.compactMap(\.status)))")
            let notStored = failed.filter { $0.code == "unavailable" }
            let unknown = failed.filter { $0.code == "outcome_unknown" }
            #expect(notStored.count + unknown.count == failed.count, "codes: \(Set(failed.compactMap(\.code)))")
            #expect(notStored.allSatisfy { $0.message?.contains("nothing was stored") == true })
            for answer in notStored {
                #expect(try Self.ordersWithKey(answer.key, database: database) == 0, "\(answer.key) said nothing was stored")
            }
            #expect(unknown.allSatisfy { $0.message?.contains("same Idempotency-Key") == true })

            // The retry with the same key settles an unknown outcome: one order, whether or not it was stored.
            for answer in unknown {
                var retried = Self.send(answer.body, key: answer.key, port: stack.port)
                var attempts = 1
                while retried.status == 503 && attempts < 20 {
                    usleep(500_000)
                    retried = Self.send(answer.body, key: answer.key, port: stack.port)
                    attempts += 1
                }
                #expect(retried.status == 201, "retry of \(answer.key): \(retried.status.map(String.init) ?? "no answer") \(retried.code ?? "")")
                #expect(try Self.ordersWithKey(answer.key, database: database) == 1, "\(answer.key) after its retry")
            }
            #expect(stack.orderd?.isRunning == true, "orderd was not killed by its watchdog")
            print("partition: \(all.count) requests, \(created.count) created, \(notStored.count) not stored, \(unknown.count) outcome unknown (settled by a retry), \(proxy.swallowedBytes) bytes swallowed")
        }
    }

    /// POST /orders with `key`; nil status when the client's own timeout passed or the connection failed.
    static func send(_ body: String, key: String, port: Int) -> Answer {
        var answer = Answer(key: key, body: body)
        guard let response = try? RawHTTP.json("POST", "/orders", port: port, body: body, headers: [("Idempotency-Key", key)]) else {
            return answer
        }
        answer.status = response.status
        answer.code = response.errorCode
        answer.message = (response.json?["error"] as? [String: Any])?["message"] as? String
        answer.id = response.json?["id"] as? String
        return answer
    }

    static func ordersWithKey(_ key: String, database: String) throws -> Int {
        Int(try psql("SELECT count(*) FROM orders WHERE idempotency_key = '\(key)'", database: database)) ?? -1
    }

    /// The test server's TCP port, from `ORDERD_TEST_PG_URL` (postgres://orderd@127.0.0.1:PORT/orderd?…).
    static func serverPort() throws -> Int {
        let url = ProcessInfo.processInfo.environment["ORDERD_TEST_PG_URL"] ?? ""
        guard let at = url.firstIndex(of: "@"), let colon = url[at...].firstIndex(of: ":"),
            let slash = url[colon...].firstIndex(of: "/"), let port = Int(url[url.index(after: colon)..<slash])
        else { throw RawHTTP.Failure(description: "no port in ORDERD_TEST_PG_URL") }
        return port
    }
}
