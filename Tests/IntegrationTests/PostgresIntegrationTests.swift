import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `[store] driver = postgres` through the real stack: the same HTTP answers as SQLite, follow-ups from the
/// shared outbox, and three instances behind one nginx upstream (the shipped `nginx/orderd.conf` rendered with
/// three sockets) surviving a SIGKILL of one of them. The PostgreSQL server is the throwaway one `make test`
/// starts (scripts/with-postgres.sh).
@Suite(.serialized, .timeLimit(.minutes(10)), .enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipComment)))
struct PostgresIntegrationTests {
    /// INI settings for a new, empty database on the test server.
    static func postgresSettings() throws -> [String: [String: String]] {
        ["store": [
            "driver": "postgres", "url": try TestPostgres.freshDatabaseURL(prefix: "it_"),
            "password_file": TestPostgres.passwordFile, "pool_size": "12",
        ]]
    }

    /// psql -At on `database` of the test server.
    static func psql(_ sql: String, database: String) throws -> String {
        try TestPostgres.psql(sql, url: TestPostgres.url(database: database))
    }

    static func database(of settings: [String: [String: String]]) -> String {
        TestPostgres.database(of: settings["store"]!["url"]!)
    }

    // MARK: - One instance

    /// The same requests against both stores: statuses, error codes and replays must not tell them apart.
    @Test func theHTTPAnswersDoNotDependOnTheStore() throws {
        var transcripts: [String: [String]] = [:]
        for driver in ["sqlite", "postgres"] {
            let settings = driver == "postgres" ? try Self.postgresSettings() : [:]
            transcripts[driver] = try withRunningStack(settings: settings) { stack in
                var lines: [String] = []
                let body = FollowUpIntegrationTests.orderJSON("same on both")
                let created = try RawHTTP.json("POST", "/orders", port: stack.port, body: body, headers: [("Idempotency-Key", "k-1")])
                let id = created.json?["id"] as? String ?? ""
                lines.append("POST \(created.status) \(created.json?["status"] as? String ?? "-") total=\(created.json?["total_cents"] as? Int ?? -1)")
                let fetched = try RawHTTP.request("GET", "/orders/\(id)", port: stack.port)
                lines.append("GET \(fetched.status) note=\(fetched.json?["note"] as? String ?? "-") created_at=\(fetched.json?["created_at"] as? String == created.json?["created_at"] as? String)")
                let replay = try RawHTTP.json("POST", "/orders", port: stack.port, body: body, headers: [("Idempotency-Key", "k-1")])
                lines.append("REPLAY \(replay.status) same-id=\(replay.json?["id"] as? String == id) replayed=\(replay.header("idempotent-replayed") ?? "-")")
                let conflict = try RawHTTP.json("POST", "/orders", port: stack.port, body: body + " ", headers: [("Idempotency-Key", "k-1")])
                lines.append("CONFLICT \(conflict.status) \(conflict.errorCode ?? "-")")
                let missing = try RawHTTP.request("GET", "/orders/0190f0f0-0000-7000-8000-000000000000", port: stack.port)
                lines.append("MISSING \(missing.status) \(missing.errorCode ?? "-")")
                let invalid = try RawHTTP.json("POST", "/orders", port: stack.port, body: #"{"currency":"XXX","items":[]}"#)
                lines.append("INVALID \(invalid.status) \(invalid.errorCode ?? "-")")
                return lines
            }
        }
        #expect(transcripts["postgres"] == transcripts["sqlite"])
        #expect(transcripts["postgres"]?.first == "POST 201 created total=2598")
        #expect(transcripts["postgres"]?.contains("REPLAY 201 same-id=true replayed=true") == true)
        #expect(transcripts["postgres"]?.contains("CONFLICT 409 idempotency_conflict") == true)
    }

    @Test func followUpsRunFromTheSharedOutboxAndTheCLISeesThem() throws {
        let gateway = try TestGateway.start(mode: .ok)
        defer { gateway.stop() }
        let settings = FollowUpIntegrationTests.settings(gateway: gateway, try Self.postgresSettings())
        try withRunningStack(settings: settings) { stack in
            let ids = try (1...20).map { try FollowUpIntegrationTests.createOrder(stack, "pg-\($0)") }
            #expect(try FollowUpIntegrationTests.eventually { Set(try gateway.received().compactMap(\.orderID)).isSuperset(of: ids) })
            #expect(try FollowUpIntegrationTests.eventually {
                ((try FollowUpIntegrationTests.status(stack)["outbox"] as? [String: Any])?["pending"] as? Int) == 0
            })
            let done = try FollowUpIntegrationTests.taskLines(stack, ["--state", "done"])
            #expect(ids.allSatisfy { id in done.contains { $0.hasPrefix("\(id):sms ") } && done.contains { $0.hasPrefix("\(id):audit ") } })
            #expect(try gateway.stats().duplicates == 0)
            let check = try Stack.run(Stack.binary, ["check-config", "--config", stack.configPath])
            #expect(check.status == 0)
            let password = try String(contentsOfFile: TestPostgres.passwordFile, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!check.output.contains(password) && !stack.orderdLog.contains(password), "the password is never printed")

            // The operator commands on PostgreSQL: JSON listing by kind, the dead-task selection, orders a page at a time.
            func orderd(_ arguments: [String]) throws -> (status: Int32, output: String) {
                try Stack.run(Stack.binary, arguments + ["--config", stack.configPath])
            }
            let audits = try orderd(["tasks", "list", "--kind", "audit", "--state", "done", "--json", "--limit", "1000"])
            #expect(audits.output.split(separator: "\n").count == 20, "\(audits.output.prefix(300))")
            #expect(audits.output.split(separator: "\n").allSatisfy { $0.contains(#""kind":"audit""#) })
            let dryRun = try orderd(["tasks", "retry", "--dead", "--kind", "sms", "--since", "1h", "--dry-run"])
            #expect(dryRun.status == 0 && dryRun.output.hasPrefix("0 dead tasks would be"), "\(dryRun.output)")
            let retried = try orderd(["tasks", "retry", "--dead"])
            #expect(retried.status == 0 && retried.output.hasPrefix("0 dead tasks pending again"), "\(retried.output)")
            let page = try orderd(["orders", "list", "--limit", "5", "--since", "1h"])
            #expect(page.status == 0, "\(page.output)")
            #expect(page.output.contains("more: orderd orders list --after "))
            #expect(!page.output.contains(FollowUpIntegrationTests.phone))
            let shown = try orderd(["orders", "show", ids[0], "--show-pii"])
            #expect(shown.output.contains(FollowUpIntegrationTests.phone) && shown.output.contains(#""created_by":"test-all""#),
                    "\(shown.output)")
        }
    }

    // MARK: - Two instances

    /// `task.sms.per_recipient = 3/1h` with two instances on one database, each behind its own nginx, taking turns
    /// at orders to one number: every order is answered 201, exactly 3 SMS reach the gateway, the others are dead
    /// `throttled` and counted by whichever instance wrote them.
    @Test func thePerRecipientLimitHoldsAcrossTwoInstances() throws {
        let gateway = try TestGateway.start(mode: .ok)
        defer { gateway.stop() }
        let settings = FollowUpIntegrationTests.settings(gateway: gateway, try Self.postgresSettings().merging([
            "task.sms": ["per_recipient": "3/1h"],
        ]) { $0.merging($1) { _, new in new } })
        let instances = try (0..<2).map { _ in try Stack(settings: settings) }
        defer { instances.forEach { $0.shutdown() } }
        for instance in instances { try instance.start() }

        var ids: [String] = []
        for number in 0..<10 {
            let stack = instances[number % 2]
            let response = try RawHTTP.json("POST", "/orders", port: stack.port, body: FollowUpIntegrationTests.orderJSON("limit-\(number)"))
            #expect(response.status == 201, "\(response.status) \(response.bodyText)")
            ids.append(response.json?["id"] as? String ?? "")
        }
        let database = Self.database(of: settings)
        #expect(try FollowUpIntegrationTests.eventually {
            try Self.psql("SELECT count(*) FROM tasks WHERE kind = 'sms' AND state = 'pending'", database: database) == "0"
        })
        let sent = try gateway.waitForDeliveries(3, timeout: .seconds(30))
        #expect(Set(sent.compactMap(\.orderID)) == Set(ids.prefix(3)))
        #expect(try Self.psql("SELECT count(*) FROM orders", database: database) == "10")
        let dead = try Self.psql(
            "SELECT order_id FROM tasks WHERE kind = 'sms' AND state = 'dead' AND last_error LIKE 'throttled:%' ORDER BY order_id",
            database: database)
        #expect(dead.split(separator: "\n").map(String.init) == ids.suffix(7).sorted())
        #expect(try Self.psql("SELECT count(*) FROM sms_recipients", database: database) == "1")
        // Both instances wrote some of them; together they counted every one.
        var throttled = 0.0
        for stack in instances {
            let scrape = MetricsScrape(try RawHTTP.request("GET", "/metrics", port: stack.port).bodyText)
            let count = scrape[#"orderd_tasks_dead_total{kind="sms",reason="throttled"}"#] ?? 0
            #expect(count > 0)
            throttled += count
        }
        #expect(throttled == 7)
        // Nothing more reaches the gateway afterwards.
        #expect(try gateway.stats().byPath["/sms"] == 3)
    }

    // MARK: - Three instances

    /// Three orderd instances on one PostgreSQL behind one nginx upstream; one is SIGKILLed under load.
    @Test func threeInstancesBehindOneNginxLoseNothingWhenOneIsKilled() throws {
        let gateway = try TestGateway.start(mode: .ok, delay: .milliseconds(200))
        defer { gateway.stop() }
        let settings = FollowUpIntegrationTests.settings(gateway: gateway, try Self.postgresSettings().merging([
            // A lease long enough that a busy machine does not let live instances' leases run out (repeats),
            // short enough that the killed instance's tasks are taken over within the test.
            "executor": ["workers": "3", "lease_timeout": "5s"], "server": ["request_workers": "6"],
        ]) { $0.merging($1) { _, new in new } })
        let instances = try (0..<3).map { _ in try Stack(settings: settings) }
        let front = try FrontNginx(sockets: instances.map(\.socketPath))
        defer {
            front.stop()
            instances.forEach { $0.shutdown() }
        }
        for instance in instances { try instance.startOrderd() }
        try front.start()

        let acknowledged = Locked<[String]>([])
        let failures = Locked<[Int]>([])
        let stopAt = ContinuousClock.now + .seconds(4)
        let killer = Thread {
            usleep(1_500_000)
            instances[1].stopOrderd(signal: SIGKILL, timeout: .seconds(5))
        }
        killer.start()
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            var n = 0
            while ContinuousClock.now < stopAt {
                n += 1
                guard let response = try? RawHTTP.json(
                    "POST", "/orders", port: front.port, body: FollowUpIntegrationTests.orderJSON("scale-\(worker)-\(n)"))
                else {
                    failures.mutate { $0.append(0) }
                    continue
                }
                if response.status == 201, let id = response.json?["id"] as? String {
                    acknowledged.mutate { $0.append(id) }
                } else {
                    failures.mutate { $0.append(response.status) }
                }
            }
        }
        let ids = acknowledged.value
        #expect(ids.count > 50)
        // Only requests in flight on the killed instance may fail (nginx: 502); nothing else.
        #expect(failures.value.allSatisfy { $0 == 502 || $0 == 0 }, "failures: \(failures.value)")
        #expect(failures.value.count <= 6 * 2, "at most the requests in flight at the kill: \(failures.value.count)")
        try gateway.setMode(.ok)

        // Every acknowledged order is readable through the survivors, and every one's SMS arrives: the killed
        // instance's leased tasks are taken over once their lease (5 s) ran out.
        let database = Self.database(of: settings)
        #expect(try Self.psql("SELECT count(*) FROM orders WHERE id IN ('\(ids.joined(separator: "','"))')", database: database) == "\(ids.count)")
        for id in ids.prefix(30) {
            #expect(try RawHTTP.request("GET", "/orders/\(id)", port: front.port).status == 200)
        }
        #expect(try FollowUpIntegrationTests.eventually(.seconds(60)) {
            Set(try gateway.received().compactMap(\.orderID)).isSuperset(of: ids)
        })
        #expect(try FollowUpIntegrationTests.eventually(.seconds(30)) {
            try Self.psql("SELECT count(*) FROM tasks WHERE state <> 'done'", database: database) == "0"
        }, "every durable task done")
        let deliveries = try gateway.received()
        // Every delivery carries its own order's key. One the SIGKILL cut off mid-body has no readable order id:
        // its key must still name an order this test stored.
        let cutOff = deliveries.filter { $0.orderID == nil }
        #expect(deliveries.filter { $0.orderID != nil }.allSatisfy { $0.idempotencyKey == "\($0.orderID!):sms" })
        #expect(cutOff.allSatisfy { delivery in
            guard let key = delivery.idempotencyKey, key.hasSuffix(":sms") else { return false }
            return (try? Self.psql("SELECT count(*) FROM orders WHERE id = '\(key.dropLast(4))'", database: database)) == "1"
        }, "cut-off deliveries: \(cutOff.map { $0.idempotencyKey ?? "no key" })")
        let stats = try gateway.stats()
        let owners = try Self.psql("SELECT count(DISTINCT applied_by) FROM orderd_schema", database: database)
        #expect(owners == "1")
        print("scale-out: \(ids.count) orders acknowledged by 3 instances (one SIGKILLed at 1.5 s), \(failures.value.count) failed requests (\(Set(failures.value))), \(deliveries.count) SMS deliveries (\(cutOff.count) cut off mid-body by the SIGKILL), \(stats.distinctKeys) distinct keys, \(stats.duplicates) repeats (same key)")
    }
}

/// nginx rendered from the shipped config with several upstream sockets (`render-nginx.sh --socket` repeated).
final class FrontNginx: @unchecked Sendable {
    let dir: String
    let port: Int
    private var process: Process?

    init(sockets: [String]) throws {
        var template = Array("/tmp/orderd-front-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw RawHTTP.Failure(description: "mkdtemp failed") }
        dir = String(cString: made)
        port = try Stack.freePort()
        let result = try Stack.run(
            "/bin/bash",
            [Stack.repo + "/scripts/render-nginx.sh", "--run-dir", dir, "--port", "\(port)", "--orders-limit", Stack.loadTestOrdersLimit]
                + sockets.flatMap { ["--socket", $0] })
        guard result.status == 0 else { throw RawHTTP.Failure(description: "render-nginx failed: \(result.output)") }
    }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Stack.nginxBinary)
        process.arguments = ["-p", dir + "/nginx", "-c", dir + "/nginx/nginx.conf", "-e", dir + "/nginx/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let response = try? RawHTTP.request("GET", "/healthz", port: port), response.status == 200 { return }
            usleep(50_000)
        }
        throw RawHTTP.Failure(description: "the front nginx did not answer /healthz")
    }

    func stop() {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGQUIT)
            let deadline = ContinuousClock.now + .seconds(5)
            while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
