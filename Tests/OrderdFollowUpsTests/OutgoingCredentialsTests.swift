import Foundation
import Testing
import TestSupport
import OrderdSupport
import OrderdConfig
// @testable: these tests read internals: OrderdFollowUps (HeaderLine, WebhookSignature, parse).
@testable import OrderdFollowUps

/// `task.sms.auth_header_file` and `task.webhook.secret_file`: what the files may hold, how a refusal reads (the key
/// and the file, never the contents), and the signature against a vector computed with Python's hmac.
@Suite struct OutgoingCredentialsTests {
    static let token = "s3cr3t-T0KEN-never-printed"

    @Test(arguments: [
        ("Authorization: Bearer \(token)", "Authorization", "Bearer \(token)"),
        ("X-Api-Key:\(token)", "X-Api-Key", token),
        ("x-api-key: \t \(token) \t", "x-api-key", token),
    ])
    func aHeaderLineIsANameAndAValue(text: String, name: String, value: String) throws {
        #expect(try HeaderLine.parse(text).get() == HeaderLine(name: name, value: value))
    }

    @Test(arguments: [
        ("Authorization Bearer \(token)", "the line has no ':'"),
        (": \(token)", "the header name is empty"),
        ("Auth orization: \(token)", "a character a header name cannot have"),
        ("Authorization:   ", "the header value is empty"),
        ("Authorization: Bearer \(token)\nX-Other: 1", "more than one line"),
        ("Authorization: Bearer \(token)\r", "more than one line"),
        ("Authorization: Bearer \u{7F}\(token)", "control or non-ASCII"),
        ("Authorization: Bearer \(token)é", "control or non-ASCII"),
        ("Content-Length: 12", "is set by orderd itself"),
        ("Host: evil.example", "is set by orderd itself"),
    ])
    func aBadHeaderFileIsRefusedWithoutQuotingIt(text: String, reason: String) throws {
        try withSecretFile(text) { path in
            var configuration = OrderdConfiguration()
            configuration.sms.authHeaderFile = path
            let error = #expect(throws: SecretFile.Failure.self) { try OutgoingCredentials.load(configuration) }
            let message = error?.description ?? ""
            #expect(message.hasPrefix("task.sms.auth_header_file = \(path): "))
            #expect(message.contains(reason))
            #expect(!message.contains(Self.token))
        }
    }

    @Test func theFilesAreReadThroughSystemdCredentialsToo() throws {
        try withSecretFile("Authorization: Bearer \(Self.token)\n") { path in
            let directory = (path as NSString).deletingLastPathComponent
            let name = (path as NSString).lastPathComponent
            var configuration = OrderdConfiguration()
            configuration.sms.authHeaderFile = "credential:\(name)"
            let credentials = try OutgoingCredentials.load(configuration, environment: ["CREDENTIALS_DIRECTORY": directory])
            #expect(credentials.smsHeader == HeaderLine(name: "Authorization", value: "Bearer \(Self.token)"))
            #expect(!"\(credentials)".contains(Self.token))
            let error = #expect(throws: SecretFile.Failure.self) { try OutgoingCredentials.load(configuration, environment: [:]) }
            #expect(error?.description.contains("$CREDENTIALS_DIRECTORY is not set") == true)
        }
    }

    @Test func aMissingFileNamesTheKeyAndThePath() {
        var configuration = OrderdConfiguration()
        configuration.webhook.secretFile = "/nonexistent/orderd-webhook.secret"
        let error = #expect(throws: SecretFile.Failure.self) { try OutgoingCredentials.load(configuration) }
        #expect(error?.description == "task.webhook.secret_file = /nonexistent/orderd-webhook.secret: /nonexistent/orderd-webhook.secret cannot be read (No such file or directory)")
    }

    @Test(arguments: [("short-secret", "too short"), ("0123456789abcdef\n0123456789abcdef", "more than one line")])
    func aBadWebhookSecretIsRefused(text: String, reason: String) throws {
        try withSecretFile(text) { path in
            var configuration = OrderdConfiguration()
            configuration.webhook.secretFile = path
            let error = #expect(throws: SecretFile.Failure.self) { try OutgoingCredentials.load(configuration) }
            #expect(error?.description.hasPrefix("task.webhook.secret_file = \(path): ") == true)
            #expect(error?.description.contains(reason) == true)
            #expect(error?.description.contains("0123456789abcdef") == false)
        }
    }

    /// Python: hmac.new(b"0123456789abcdef-secret", b'1700000000.{"id":"x"}', hashlib.sha256).hexdigest()
    @Test func theSignatureIsStripesScheme() {
        let signature = WebhookSignature(secret: Array("0123456789abcdef-secret".utf8))
        #expect(signature.header(body: Array(#"{"id":"x"}"#.utf8), unixSeconds: 1_700_000_000)
            == "t=1700000000,v1=e83bb0935e7b1db314f673eb7e104265702860cb3dd80ea6e7a2f7cdc1cacd56")
    }

    @Test func aWebhookURLWithoutASecretIsRefused() {
        let text = "[task.webhook]\nurl = http://127.0.0.1:9/hook\n"
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.parse(text: text, file: "/etc/orderd/orderd.ini") }
        #expect(error?.problems.map(\.key) == ["task.webhook.secret_file"])
        #expect(error?.description.hasPrefix("Missing value for 'task.webhook.secret_file' in /etc/orderd/orderd.ini: 'task.webhook.url' is set in /etc/orderd/orderd.ini line 2; expected the file of the secret") == true)
        #expect(throws: Never.self) {
            try ConfigLoader.parse(text: text + "secret_file = credential:webhook\n", file: "/etc/orderd/orderd.ini")
        }
    }

    @Test func theRenderShowsWhereTheSecretsAreNeverWhatTheyAre() throws {
        let configuration = try ConfigLoader.parse(
            text: "[task.sms]\nauth_header_file = /etc/orderd/sms.header\n[task.webhook]\nurl = http://127.0.0.1:9/hook\nsecret_file = credential:hook\n",
            file: "/t.ini")
        let rendered = configuration.renderINI()
        #expect(rendered.contains("auth_header_file = /etc/orderd/sms.header"))
        #expect(rendered.contains("secret_file = credential:hook"))
    }

    func withSecretFile(_ contents: String, _ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("orderd-secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("secret").path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        try body(path)
    }
}
