import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Credentials on outgoing calls through the real stack: the SMS gateway's header on every request and rotated
/// by SIGHUP, webhooks signed and checked by the receivers' own example code, secrets in no log line, and a
/// configuration that cannot be used refused before anything starts.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct OutgoingCredentialsIntegrationTests {
    typealias F = FollowUpIntegrationTests
    static let token = "gw-token-7f3c9a1e5b2d4068"
    static let rotated = "gw-token-rotated-91b0c2d3"

    /// Writes `text` to a file of its own (mode 0600) in `dir` and returns its path.
    static func secretFile(_ dir: String, _ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    /// Sends SIGHUP and waits until the log shows the reload's outcome line (`marker`) once more than before.
    static func reload(_ stack: Stack, waitingFor marker: String) throws {
        let before = stack.orderdLog.components(separatedBy: marker).count
        kill(try #require(stack.orderd).processIdentifier, SIGHUP)
        #expect(F.eventually { stack.orderdLog.components(separatedBy: marker).count > before }, "no '\(marker)' after SIGHUP")
    }

    /// The header reaches the gateway with every request; a rotated file is taken at SIGHUP; the gateway's 401
    /// for a stale token makes the task dead (`rejected`) like any 4xx; a broken file at a reload keeps the
    /// running header. The token is in no log line and not in check-config's output.
    @Test func theGatewayGetsTheHeaderOnEveryRequestAndItRotatesOnReload() throws {
        let gateway = try TestGateway.start(requireHeader: "Authorization: Bearer \(Self.token)")
        defer { gateway.stop() }
        let header = try Self.secretFile(gateway.dir, "sms.header", "Authorization: Bearer \(Self.token)\n")
        let settings = F.settings(gateway: gateway, ["task.sms": ["auth_header_file": header, "max_attempts": "3"]])
        try withRunningStack(settings: settings) { stack in
            let ids = try (1...5).map { try F.createOrder(stack, "auth-\($0)") }
            let deliveries = try gateway.waitForDeliveries(5, timeout: .seconds(30))
            #expect(Set(deliveries.compactMap(\.orderID)) == Set(ids))
            #expect(deliveries.allSatisfy { $0.auth == "ok" && $0.answered == 200 })

            // The gateway moves to a new token first: orderd's next SMS is refused 401, dead at once.
            try gateway.requireHeader("Authorization: Bearer \(Self.rotated)")
            let refused = try F.createOrder(stack, "stale token")
            #expect(try F.eventually {
                try F.taskLines(stack, ["--dead"]).contains { $0.hasPrefix("\(refused):sms ") && $0.contains("HTTP 401") }
            })

            // Ops rewrite the file and reload: the next SMS carries the new token.
            try "Authorization: Bearer \(Self.rotated)\n".write(toFile: header, atomically: true, encoding: .utf8)
            try Self.reload(stack, waitingFor: "configuration reloaded")
            #expect(stack.orderdLog.contains("secrets_reread=task.sms.auth_header_file"))
            let afterRotation = try F.createOrder(stack, "rotated")
            #expect(try F.eventually {
                try gateway.received().contains { $0.orderID == afterRotation && $0.auth == "ok" && $0.answered == 200 }
            })

            // A file that cannot be used at a reload: refused, named, and the running header stays.
            try "Authorization: Bearer \(Self.rotated)\nX-Second: line\n".write(toFile: header, atomically: true, encoding: .utf8)
            try Self.reload(stack, waitingFor: "reload refused; the running configuration stays in force")
            #expect(stack.orderdLog.contains("task.sms.auth_header_file = \(header): the file holds more than one line"))
            let afterBadReload = try F.createOrder(stack, "kept")
            #expect(try F.eventually {
                try gateway.received().contains { $0.orderID == afterBadReload && $0.auth == "ok" && $0.answered == 200 }
            })

            let check = try Stack.run(Stack.binary, ["check-config", "--config", stack.configPath])
            #expect(check.status == 78 && check.output.contains("task.sms.auth_header_file = \(header)"))
            try "Authorization: Bearer \(Self.rotated)\n".write(toFile: header, atomically: true, encoding: .utf8)
            let good = try Stack.run(Stack.binary, ["check-config", "--config", stack.configPath])
            #expect(good.status == 0 && good.output.contains("auth_header_file = \(header)"))
            for text in [stack.orderdLog, check.output, good.output] {
                #expect(!text.contains(Self.token) && !text.contains(Self.rotated), "a gateway token was printed")
            }
            let status = try RawHTTP.request("GET", "/status", port: stack.port)
            #expect(!status.bodyText.contains(Self.token) && !status.bodyText.contains(Self.rotated))
        }
    }

    /// Every webhook delivery, retries included (the receiver fails every second one), carries a signature that
    /// scripts/verify-webhook.py (the example in docs/design.md) accepts; that script refuses a tampered body and a stale
    /// timestamp.
    @Test func everyWebhookIsSignedAndTheDocumentedVerifierChecksIt() throws {
        let gateway = try TestGateway.start(mode: .flaky)
        defer { gateway.stop() }
        let settings = F.settings(gateway: gateway, ["task.webhook": ["url": gateway.url(path: "/hook"), "max_attempts": "10"]])
        try withRunningStack(settings: settings) { stack in
            let ids = try (1...8).map { try F.createOrder(stack, "signed-\($0)") }
            #expect(try F.eventually(.seconds(40)) {
                let accepted = try gateway.received().filter { $0.path == "/hook" && $0.answered == 200 }
                return Set(accepted.compactMap(\.idempotencyKey)) == Set(ids.map { "\($0):webhook" })
            })
            let hooks = try gateway.received().filter { $0.path == "/hook" }
            #expect(hooks.count > ids.count, "the flaky receiver made orderd retry")
            #expect(hooks.allSatisfy { $0.signature == "ok" }, "\(hooks.map { $0.signature ?? "-" })")
            #expect(try gateway.stats().signatureFailures == 0)
            #expect(!stack.orderdLog.contains(TestGateway.webhookSecret))

            // The documented verifier on one delivery as received: valid; tampered body; five minutes and a second later.
            let delivery = try #require(hooks.first)
            let header = try #require(delivery.signatureHeader)
            let body = try #require(delivery.rawBody)
            let t = try #require(header.split(separator: ",").first.flatMap { Double($0.dropFirst(2)) })
            func verify(_ body: String, now: Double) throws -> Int32 {
                let bodyFile = try Self.secretFile(gateway.dir, "body", body)
                return try Stack.run("/usr/bin/env", [
                    "python3", Stack.repo + "/scripts/verify-webhook.py", "--secret-file", stack.webhookSecretPath,
                    "--header", header, "--body-file", bodyFile, "--now", String(now),
                ]).status
            }
            #expect(try verify(body, now: t) == 0)
            #expect(try verify(body, now: t + 299) == 0)
            #expect(try verify(body.replacingOccurrences(of: "CNY", with: "USD"), now: t) == 1)
            #expect(try verify(body + " ", now: t) == 1)
            #expect(try verify(body, now: t + 301) == 1)
            #expect(try verify(body, now: t - 301) == 1)
        }
    }

    /// The example in docs/design.md and scripts/verify-webhook.py hold the same code.
    @Test func theDocumentedExampleIsTheScriptsCode() throws {
        let script = try String(contentsOfFile: Stack.repo + "/scripts/verify-webhook.py", encoding: .utf8)
        let readme = try String(contentsOfFile: Stack.repo + "/docs/design.md", encoding: .utf8)
        let start = try #require(script.range(of: "(keep the two identical) ---\n"))
        let end = try #require(script.range(of: "# --- end of the example ---"))
        let example = String(script[start.upperBound..<end.lowerBound])
        #expect(example.split(separator: "\n").count <= 10)
        #expect(readme.contains("```python\n" + example + "```\n"))
    }

    /// Refused before anything starts, by `serve` (exit 78) and `check-config`: a webhook URL without a secret,
    /// and a header file that is not one header line (named with its key, never quoted).
    @Test func configurationsThatCannotSignOrAuthenticateAreRefused() throws {
        var template = Array("/tmp/orderd-cred-XXXXXX".utf8CString)
        let dir = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/orderd.ini"
        try "[task.webhook]\nurl = http://127.0.0.1:9/hook\n[task.audit]\npath = \(dir)/audit.log\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let check = try Stack.run(Stack.binary, ["check-config", "--config", config])
        #expect(check.status == 78)
        #expect(check.output.contains("Missing value for 'task.webhook.secret_file' in \(config): 'task.webhook.url' is set in \(config) line 2"))

        let header = try Self.secretFile(dir, "sms.header", "Bearer \(Self.token)\n")
        try "[task.sms]\nauth_header_file = \(header)\n[task.audit]\npath = \(dir)/audit.log\n[store]\npath = \(dir)/orderd.db\n[server]\nlisten = \(dir)/orderd.sock\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        for arguments in [["check-config", "--config", config], ["serve", "--config", config]] {
            let result = try Stack.run(Stack.binary, arguments)
            #expect(result.status == 78)
            #expect(result.output.contains("task.sms.auth_header_file = \(header): the line has no ':'"))
            #expect(!result.output.contains(Self.token))
        }
    }
}
