import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Secrets and the buyer's contact details, planted in every place they can enter orderd, must come out
/// nowhere an operator or a client reads: `check-config`, orderd's log at debug level, nginx's logs, `/status`
/// (JSON and HTML), `/metrics`, error answers.
@Suite(.serialized, .timeLimit(.minutes(10)), .enabled(if: TestPostgres.enabled, Comment(rawValue: TestPostgres.skipComment)))
struct SecretsNeverPrintedTests {
    @Test func plantedSecretsAndContactDetailsAppearNowhere() throws {
        let gatewayToken = "planted-gateway-token-5e1d8a"
        let gateway = try TestGateway.start(requireHeader: "Authorization: Bearer \(gatewayToken)")
        defer { gateway.stop() }
        let headerFile = gateway.dir + "/sms.header"
        try "Authorization: Bearer \(gatewayToken)\n".write(toFile: headerFile, atomically: true, encoding: .utf8)
        // The webhook's secret is the harness's (`Stack` writes it to task.webhook.secret_file).
        var settings = FollowUpIntegrationTests.settings(gateway: gateway, [
            "task.webhook": ["url": gateway.url(path: "/hook")],
            "task.sms": ["auth_header_file": headerFile],
            "log": ["level": "debug"],
        ])
        for (section, values) in try PostgresIntegrationTests.postgresSettings() {
            settings[section, default: [:]].merge(values) { _, new in new }
        }
        let databasePassword = try String(contentsOfFile: TestPostgres.passwordFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let secrets = ["database password": databasePassword, "SMS gateway token": gatewayToken,
                       "webhook secret": TestGateway.webhookSecret] + TestKeys.keys.map { ("API key \($0.id)", $0.secret) }
        let phone = FollowUpIntegrationTests.phone
        let email = FollowUpIntegrationTests.email
        let contacts = ["phone": phone, "email": email, "phone digits": String(phone.dropFirst())]

        try withRunningStack(settings: settings) { stack in
            var outputs: [String: String] = [:]
            outputs["check-config"] = try Stack.run(Stack.binary, ["check-config", "--config", stack.configPath]).output
            let ids = try (0..<3).map { try FollowUpIntegrationTests.createOrder(stack, "planted-\($0)") }
            // Refusals that carry contact details or a key in what they refuse.
            let refused = [
                try RawHTTP.json("POST", "/orders", port: stack.port, body: #"{"customer":{"phone":"\#(phone)x","email":"\#(email)"},"currency":"CNY","items":[]}"#),
                try RawHTTP.json("POST", "/orders", port: stack.port, body: #"{"customer":{"phone":"\#(phone)","email":"\#(email)@"},"currency":"CNY","items":[{"sku":"S","quantity":1,"unit_price_cents":1}]}"#),
                try RawHTTP.json("POST", "/orders", port: stack.port, body: #"{"customer":{"phone":"\#(phone)"}"#),
                try RawHTTP.request("GET", "/orders/\(ids[0])", port: stack.port, key: TestKeys.writeOnly),
                try RawHTTP.request("GET", "/status", port: stack.port, key: TestKeys.all + "0"),
            ]
            #expect(refused.map(\.status) == [422, 422, 400, 403, 401])
            outputs["error answers"] = refused.map(\.bodyText).joined(separator: "\n")
            // Every follow-up ran (the SMS and the webhook carried the contact details out, as they must).
            #expect(pollUntil(.seconds(60)) { ((try? gateway.received()) ?? []).filter { $0.path == "/hook" }.count >= 3 })
            #expect(pollUntil(.seconds(60)) { ((try? gateway.received()) ?? []).filter { $0.path == "/sms" && $0.auth == "ok" }.count >= 3 })
            #expect(try gateway.stats().authFailures == 0 && gateway.stats().signatureFailures == 0)
            outputs["/status"] = try RawHTTP.request("GET", "/status", port: stack.port).bodyText
            outputs["/status?html"] = try RawHTTP.request("GET", "/status?html", port: stack.port).bodyText
            outputs["/metrics"] = try RawHTTP.request("GET", "/metrics", port: stack.port).bodyText
            outputs["/stats"] = try RawHTTP.request("GET", "/stats", port: stack.port).bodyText
            for name in ["access.log", "error.log"] {
                outputs["nginx \(name)"] = (try? String(contentsOfFile: stack.dir + "/nginx/\(name)", encoding: .utf8)) ?? ""
            }
            outputs["orderd log"] = stack.orderdLog
            #expect(outputs["orderd log"]!.contains("level=debug") || outputs["orderd log"]!.contains("\"level\":\"debug\""),
                    "the log ran at debug level")
            #expect(outputs["check-config"]!.contains("test is successful"))

            for (place, text) in outputs {
                if place != "nginx error.log" { #expect(!text.isEmpty, "\(place) is empty: nothing was checked there") }
                for (what, secret) in secrets {
                    #expect(!text.contains(secret), "\(what) in \(place)")
                }
                for (what, value) in contacts {
                    #expect(!text.contains(value), "\(what) in \(place)")
                }
            }
        }
    }
}
