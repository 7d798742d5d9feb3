import Foundation
import OrderdConfig
import OrderdSupport

/// What outgoing calls carry to prove they come from orderd: the SMS gateway's header line
/// (`task.sms.auth_header_file`) and the key that signs webhooks (`task.webhook.secret_file`).
///
/// Read at start and again at every reload, so ops can rotate a token by rewriting the file and sending SIGHUP.
/// The contents are never logged or rendered: failures name the key and the file, `description` says only
/// which secrets are loaded.
package struct OutgoingCredentials: Sendable, CustomStringConvertible {
    /// Sent with every request to the SMS gateway; nil when `task.sms.auth_header_file` is empty.
    package var smsHeader: HeaderLine?
    /// Signs every webhook (`WebhookSignature`); nil when `task.webhook.secret_file` is empty.
    package var webhookSecret: WebhookSignature?

    /// A webhook secret shorter than this is refused: HMAC-SHA256 keys should carry at least 128 bits.
    package static let minimumSecretBytes = 16

    package init(smsHeader: HeaderLine? = nil, webhookSecret: WebhookSignature? = nil) {
        self.smsHeader = smsHeader
        self.webhookSecret = webhookSecret
    }

    /// The keys whose files were read (for the reload's log line: which secrets a SIGHUP took up).
    package var keys: [String] {
        (smsHeader == nil ? [] : ["task.sms.auth_header_file"]) + (webhookSecret == nil ? [] : ["task.webhook.secret_file"])
    }

    package var description: String {
        "OutgoingCredentials(sms header: \(smsHeader.map { "\($0.name): \(OrderdConfiguration.maskedSecret)" } ?? "none"), webhook secret: \(webhookSecret == nil ? "none" : OrderdConfiguration.maskedSecret))"
    }

    /// Reads the files `configuration` names. Throws, naming the key and the file but never the contents, when a
    /// file cannot be read or does not hold what the key expects.
    package static func load(
        _ configuration: OrderdConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SecretFile.Failure) -> OutgoingCredentials {
        var credentials = OutgoingCredentials()
        if !configuration.sms.authHeaderFile.isEmpty {
            let key = "task.sms.auth_header_file"
            let reference = configuration.sms.authHeaderFile
            let text = try SecretFile.read(reference, key: key, environment: environment)
            switch HeaderLine.parse(text) {
            case .success(let header): credentials.smsHeader = header
            case .failure(let problem):
                throw SecretFile.Failure(description: "\(key) = \(reference): \(problem.reason); expected one line 'Name: value', such as 'Authorization: Bearer <token>'")
            }
        }
        if !configuration.webhook.secretFile.isEmpty {
            let key = "task.webhook.secret_file"
            let reference = configuration.webhook.secretFile
            let text = try SecretFile.read(reference, key: key, environment: environment)
            guard !text.contains("\n"), !text.contains("\r") else {
                throw SecretFile.Failure(description: "\(key) = \(reference): the file holds more than one line; expected the secret alone on one line")
            }
            guard text.utf8.count >= minimumSecretBytes else {
                throw SecretFile.Failure(description: "\(key) = \(reference): the secret is too short; expected at least \(minimumSecretBytes) bytes, such as the output of 'openssl rand -hex 32'")
            }
            credentials.webhookSecret = WebhookSignature(secret: Array(text.utf8))
        }
        return credentials
    }
}

/// One HTTP header line from a file: `Name: value`.
package struct HeaderLine: Sendable, Equatable {
    let name: String
    let value: String

    /// Why a text is not a header line, in words that never quote it.
    struct Problem: Error, Equatable {
        let reason: String
    }

    /// Headers orderd sets itself, or that would change how the request is framed: a file may not replace them.
    static let reserved: Set<String> = [
        "content-type", "content-length", "transfer-encoding", "host", "connection", "idempotency-key", "user-agent",
        "x-orderd-signature",
    ]

    /// Parses one line `Name: value` (one trailing newline was already removed by `SecretFile.read`): the name in
    /// RFC 9110 token characters, blanks around the value dropped, the value in visible ASCII, spaces and tabs.
    static func parse(_ text: String) -> Result<HeaderLine, Problem> {
        if text.contains("\n") || text.contains("\r") { return .failure(Problem(reason: "the file holds more than one line")) }
        guard let colon = text.firstIndex(of: ":") else { return .failure(Problem(reason: "the line has no ':'")) }
        let name = String(text[..<colon])
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
            return .failure(Problem(reason: "the header name is empty or holds a character a header name cannot have"))
        }
        guard !reserved.contains(name.lowercased()) else {
            return .failure(Problem(reason: "the header \(name) is set by orderd itself"))
        }
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        var value = Substring(text[text.index(after: colon)...])
        while let first = value.first, blank(first) { value.removeFirst() }
        while let last = value.last, blank(last) { value.removeLast() }
        guard !value.isEmpty else { return .failure(Problem(reason: "the header value is empty")) }
        guard value.utf8.allSatisfy({ $0 == 0x09 || (0x20...0x7E).contains($0) }) else {
            return .failure(Problem(reason: "the header value holds a control or non-ASCII character"))
        }
        return .success(HeaderLine(name: name, value: String(value)))
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
