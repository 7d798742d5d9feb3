import Foundation
import Testing

// @testable: these tests read internals: OrderdHTTP (basicSecret, bearerToken).
@testable import OrderdHTTP

/// API keys without a process: the keys file's format, bearer and basic parsing, scopes, the order bucket.
@Suite struct APIKeyTests {
    static let (writer, writerSecret) = APIKey.generate(id: "shop", scopes: [.ordersWrite], note: "checkout")
    static let (reader, readerSecret) = APIKey.generate(id: "crm", scopes: [.ordersRead, .admin])

    @Test func generatedSecretsArePrefixedRandomAndOnlyTheirHashIsInTheLine() throws {
        let (key, secret) = APIKey.generate(scopes: [.ordersWrite, .admin], note: "a note")
        #expect(secret.hasPrefix("od_live_"))
        #expect(secret.count == "od_live_".count + 40)  // 160 random bits, hex
        #expect(secret != APIKey.generate(scopes: [.admin]).secret)
        #expect(!key.line.contains(secret.dropFirst(8)))
        #expect(key.line.hasSuffix(" admin,orders:write a note") || key.line.hasSuffix(" orders:write,admin a note"))
        let parsed = try APIKeyFile.parse(key.line + "\n", source: "keys")
        #expect(parsed == [key])
        #expect(parsed[0].secretSHA256 == APIKey.sha256(secret))
    }

    @Test func theKeysFileSkipsCommentsAndKeepsNotes() throws {
        let text = "# id hash scopes note\n\n\(Self.writer.line)\n   \n\(Self.reader.line)\r\n"
        let keys = try APIKeyFile.parse(text, source: "k")
        #expect(keys.map(\.id) == ["shop", "crm"])
        #expect(keys[0].note == "checkout")
        #expect(keys[1].scopes == [.ordersRead, .admin])
    }

    @Test(arguments: [
        ("shop", "k:1: expected `id sha256:<64 hex digits> scope[,scope...] [note]`"),
        ("sh*p sha256:\(String(repeating: "0", count: 64)) admin", "k:1: key id 'sh*p' must be"),
        ("shop od_live_abc admin", "k:1: key 'shop': expected sha256:<64 hex digits>"),
        ("shop sha256:\(String(repeating: "0", count: 63)) admin", "expected sha256:<64 hex digits>"),
        ("shop sha256:\(String(repeating: "g", count: 64)) admin", "expected sha256:<64 hex digits>"),
        ("shop sha256:\(String(repeating: "0", count: 64)) orders:delete", "unknown scope 'orders:delete'"),
        ("a sha256:\(String(repeating: "0", count: 64)) admin\na sha256:\(String(repeating: "1", count: 64)) admin", "k:2: key id 'a' appears twice"),
    ])
    func aBadLineRefusesTheWholeFileNamingTheLine(_ text: String, _ expected: String) {
        #expect {
            _ = try APIKeyFile.parse(text, source: "k")
        } throws: { error in
            (error as? APIKeyFile.Failure)?.description.contains(expected) == true
        }
    }

    @Test func aFileOthersCanReadIsRefusedAndAPrivateOneLoads() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try (Self.writer.line + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        for mode: mode_t in [0o644, 0o640, 0o604, 0o660] {
            chmod(path, mode)
            #expect {
                _ = try APIKeyFile.load(path)
            } throws: { error in
                let text = (error as? APIKeyFile.Failure)?.description ?? ""
                return text.contains("mode \(String(mode, radix: 8))") && text.contains("chmod 600 \(path)")
            }
        }
        chmod(path, 0o600)
        #expect(try APIKeyFile.load(path) == [Self.writer])
        chmod(path, 0o400)
        #expect(try APIKeyFile.load(path) == [Self.writer])
    }

    @Test func aCredentialIsReadFromTheCredentialsDirectory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("creds-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try (Self.reader.line + "\n").write(toFile: directory + "/api-keys", atomically: true, encoding: .utf8)
        chmod(directory + "/api-keys", 0o400)
        #expect(try APIKeyFile.load("credential:api-keys", environment: ["CREDENTIALS_DIRECTORY": directory]) == [Self.reader])
        #expect {
            _ = try APIKeyFile.load("credential:api-keys", environment: [:])
        } throws: { error in
            (error as? APIKeyFile.Failure)?.description.contains("$CREDENTIALS_DIRECTORY is not set") == true
        }
    }

    @Test func bearerAndBasicCarryTheSecret() {
        #expect(APIKeyring.bearerToken("Bearer od_live_x") == "od_live_x")
        #expect(APIKeyring.bearerToken("bearer   od_live_x  ") == "od_live_x")
        #expect(APIKeyring.bearerToken("Bearer") == nil)
        #expect(APIKeyring.bearerToken("Bearer a b") == nil)
        #expect(APIKeyring.bearerToken("Token od_live_x") == nil)
        #expect(APIKeyring.bearerToken("BEARER od_live_x") == "od_live_x")
        #expect(APIKeyring.bearerToken("Bearer\u{0}od_live_x") == nil)
        #expect(APIKeyring.bearerToken("Bearér od_live_x") == nil)
        #expect(APIKeyring.bearerToken("Bearer od_live_ü") == "od_live_ü")
        let asPassword = Data("anyone:od_live_x".utf8).base64EncodedString()
        let asUser = Data("od_live_x:".utf8).base64EncodedString()
        #expect(APIKeyring.basicSecret("Basic \(asPassword)") == "od_live_x")
        #expect(APIKeyring.basicSecret("basic \(asUser)") == "od_live_x")
        #expect(APIKeyring.basicSecret("Basic \(Data(":".utf8).base64EncodedString())") == nil)
        #expect(APIKeyring.basicSecret("Basic !!!") == nil)
    }

    @Test func aKeyIsAcceptedForItsScopesOnly() throws {
        let keyring = APIKeyring(keys: [Self.writer, Self.reader], ordersPerMinute: 0)
        #expect(try keyring.authorize("Bearer \(Self.writerSecret)", for: .ordersWrite).id == "shop")
        #expect(try keyring.authorize("Bearer \(Self.readerSecret)", for: .admin).id == "crm")
        #expect(throws: APIError.forbidden(keyID: "shop", missing: .ordersRead)) {
            try keyring.authorize("Bearer \(Self.writerSecret)", for: .ordersRead)
        }
        #expect(throws: APIError.unauthorized(.missing)) { try keyring.authorize(nil, for: .ordersWrite) }
        #expect(throws: APIError.unauthorized(.malformed)) { try keyring.authorize("Bearer", for: .ordersWrite) }
        #expect(throws: APIError.unauthorized(.invalid)) {
            try keyring.authorize("Bearer \(Self.writerSecret)x", for: .ordersWrite)
        }
        keyring.replace(with: [Self.reader])
        #expect(throws: APIError.unauthorized(.invalid)) {
            try keyring.authorize("Bearer \(Self.writerSecret)", for: .ordersWrite)
        }
    }

    @Test func errorsSayWhatToSendAndNeverEchoTheSecret() {
        let missing = APIError.unauthorized(.missing)
        #expect(missing.status == 401 && missing.code == "unauthorized")
        #expect(missing.headers.map(\.name) == ["WWW-Authenticate"])
        #expect(missing.headers[0].value == #"Bearer realm="orderd""#)
        #expect(APIError.unauthorized(.invalid).headers[0].value.contains(#"error="invalid_token""#))
        #expect(APIError.unauthorized(.missing, basic: true).headers.map(\.value).last?.hasPrefix("Basic ") == true)
        let forbidden = APIError.forbidden(keyID: "shop", missing: .ordersRead)
        #expect(forbidden.status == 403 && forbidden.code == "forbidden")
        #expect(forbidden.headers[0].value.contains(#"scope="orders:read""#))
        #expect(!forbidden.message.contains("od_live_"))
    }

    @Test func theOrderBucketAllowsAMinutesWorthThenTheRate() throws {
        let keyring = APIKeyring(keys: [Self.writer], ordersPerMinute: 60)
        let start = ContinuousClock.now
        for _ in 0..<60 { try keyring.admitOrder(for: Self.writer, now: start) }
        var refused: APIError?
        do { try keyring.admitOrder(for: Self.writer, now: start) } catch { refused = error }
        #expect(refused?.status == 429 && refused?.code == "rate_limited")
        #expect(refused?.headers.first { $0.name == "Retry-After" }?.value == "1")
        // One order per second comes back.
        try keyring.admitOrder(for: Self.writer, now: start + .seconds(1))
        #expect(throws: APIError.self) { try keyring.admitOrder(for: Self.writer, now: start + .seconds(1)) }
        // Another key has its own bucket; 0 turns the limit off.
        try keyring.admitOrder(for: Self.reader, now: start)
        keyring.ordersPerMinute = 0
        for _ in 0..<1000 { try keyring.admitOrder(for: Self.writer, now: start + .seconds(1)) }
    }
}
