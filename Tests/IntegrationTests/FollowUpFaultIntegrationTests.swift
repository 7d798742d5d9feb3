import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Faults of the follow-up core through the real stack (orderd behind nginx, real gateways on loopback, the real
/// SQLite outbox), without a restart: every acknowledged order's durable tasks end done within a stated bound.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct FollowUpFaultIntegrationTests {
    typealias F = FollowUpIntegrationTests

    /// The writer's transaction that records the outcomes of claimed tasks fails once (a debug-build fault
    /// hook): their rows still name this process's leases, but no handle holds them any more. The lease book
    /// renews only leases it holds, so they run out and the tasks run again within `lease_timeout` +
    /// `poll_interval`, here 3 s + 50 ms; the bound asserted is twenty times that.
    @Test func outcomesLostWithTheirTransactionRunAgainWithinALeaseTimeout() throws {
        let gateway = try TestGateway.start(mode: .ok, delay: .milliseconds(20))
        defer { gateway.stop() }
        // One worker and a queue of two: most tasks overflow to the outbox and are claimed from it.
        let stack = try Stack(settings: F.settings(gateway: gateway, ["executor": ["workers": "1", "queue_capacity": "2"]]))
        defer { stack.shutdown() }
        try stack.start(extraEnvironment: ["ORDERD_TEST_FAULT": "lose-claimed-outcomes-once"])
        let ids = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for n in 0..<15 {
                // Orders in the failed transaction are answered 503 and not stored: only 201s count.
                if let id = try? F.createOrder(stack, "lost-\(worker)-\(n)") { ids.mutate { $0.append(id) } }
            }
        }
        let created = ids.value
        #expect(created.count >= 50)
        #expect(F.eventually(.seconds(60)) { stack.orderdLog.contains("test fault injected") }, "the fault never fired")
        let bound = Duration.seconds(60)
        #expect(try F.eventually(bound) { Set(try gateway.received().compactMap(\.orderID)).isSuperset(of: created) })
        #expect(F.eventually(bound) { Set(F.auditLines(stack).compactMap { $0["order_id"] as? String }).isSuperset(of: created) })
        #expect(try F.eventually(bound) { ((try F.status(stack)["outbox"] as? [String: Any])?["pending"] as? Int) == 0 })
        let done = try F.taskLines(stack, ["--state", "done"])
        for id in created {
            #expect(done.contains { $0.hasPrefix("\(id):sms ") } && done.contains { $0.hasPrefix("\(id):audit ") })
        }
        // The lost outcomes were of tasks that had run: they ran again, with the same key.
        let auditRepeats = F.auditLines(stack).count - Set(F.auditLines(stack).compactMap { $0["task_id"] as? String }).count
        #expect(try gateway.stats().duplicates + auditRepeats >= 1)
    }

    /// The webhook turned off by SIGHUP while its tasks wait for retries: they stay pending and untouched, the
    /// process stays idle (no claim-and-release churn), `/status` names the kind; turned on again, they are done.
    @Test func aKindTurnedOffByReloadIsLeftAloneUntilTurnedOnAgain() throws {
        let sms = try TestGateway.start()
        defer { sms.stop() }
        let hooks = try TestGateway.start(mode: .fail)
        defer { hooks.stop() }
        let hookURL = hooks.url(path: "/hook")
        let settings = F.settings(gateway: sms, [
            "task.webhook": ["url": hookURL, "max_attempts": "100"],
            // The default poll interval: the idle cost is asserted at it.
            "executor": ["poll_interval": "1s", "retry_backoff": "200ms", "retry_backoff_max": "1s"],
        ])
        let stack = try Stack(settings: settings)
        defer { stack.shutdown() }
        try stack.start()
        let pid = try #require(stack.orderd?.processIdentifier)
        let ids = try (1...20).map { try F.createOrder(stack, "hook-\($0)") }
        #expect(try F.eventually(.seconds(30)) { Set(try hooks.received().compactMap(\.idempotencyKey)).count == 20 })

        try stack.rewriteConfig(["task.webhook": ["url": ""]])
        kill(pid, SIGHUP)
        #expect(F.eventually(.seconds(10)) { stack.orderdLog.contains("msg=\"configuration reloaded\"") })
        // Attempts in flight at the reload end (a retry each); then nothing moves.
        func webhookRows() throws -> [String] {
            try F.taskLines(stack, ["--state", "pending"]).filter { $0.contains(":webhook ") }
        }
        func settled() throws -> Bool {
            let executor = try F.status(stack)["executor"] as? [String: Any]
            guard (executor?["running"] as? Int) == 0, (executor?["queued"] as? Int) == 0 else { return false }
            let rows = try webhookRows()
            return rows.count == 20 && rows.allSatisfy { Self.lease(of: $0) == "-" }
        }
        #expect(try F.eventually(.seconds(30)) { try settled() })
        let outbox = try #require(try F.status(stack)["outbox"] as? [String: Any])
        #expect((outbox["pending_by_kind"] as? [String: Any])?["webhook"] as? Int == 20)
        #expect(outbox["unhandled_kinds"] as? [String] == ["webhook"])
        #expect(stack.orderdLog.contains("no handler for are left alone") && stack.orderdLog.contains("kinds=webhook"))
        let before = try webhookRows().map(Self.idAndAttempts)
        let hooksBefore = try hooks.received().count
        let cpuBefore = try #require(Self.cpuSeconds(pid))
        usleep(10_000_000)
        let cpu = try #require(Self.cpuSeconds(pid)) - cpuBefore
        #expect(cpu <= 0.2, "orderd used \(cpu) s of CPU in 10 s while idle with 20 unhandled tasks pending")
        let after = try webhookRows()
        #expect(after.map(Self.idAndAttempts) == before, "untouched: same tasks, same attempts")
        #expect(after.allSatisfy { Self.lease(of: $0) == "-" }, "never leased")
        #expect(try hooks.received().count == hooksBefore)

        // On again, with a receiver that accepts: every one is done, once.
        try hooks.setMode(.ok)
        try stack.rewriteConfig(["task.webhook": ["url": hookURL]])
        kill(pid, SIGHUP)
        #expect(try F.eventually(.seconds(60)) {
            (try F.taskLines(stack, ["--state", "done"])).filter { $0.contains(":webhook ") }.count == 20
        })
        let accepted = try hooks.received().filter { $0.answered == 200 || $0.answered == 202 || $0.answered == 204 }
        #expect(Set(accepted.compactMap(\.idempotencyKey)) == Set(ids.map { "\($0):webhook" }))
    }

    /// The LEASE column of a `tasks list` line (columns are separated by two or more spaces).
    static func lease(of line: String) -> String {
        let columns = line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return columns.count > 5 ? columns[5] : ""
    }

    static func idAndAttempts(_ line: String) -> String {
        let columns = line.split(separator: " ", omittingEmptySubsequences: true)
        return columns.count > 2 ? "\(columns[0]) \(columns[2])" : line
    }

    /// User + system CPU time of `pid`, from /proc/PID/stat (fields 14 and 15, in clock ticks).
    static func cpuSeconds(_ pid: pid_t) -> Double? {
        guard let stat = ProcessProbe.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
