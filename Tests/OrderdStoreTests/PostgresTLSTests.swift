import Foundation
import OrderdSupport
import Testing
import TestSupport
import OrderdConfig
// @testable: these tests read internals: OrderdStore (connectionIsEncrypted).
@testable import OrderdStore

/// TLS to PostgreSQL against the throwaway server of scripts/with-postgres.sh, which has a certificate for
/// localhost and 127.0.0.1 signed by `ORDERD_TEST_PG_CA`, an unrelated `ORDERD_TEST_PG_WRONG_CA`, and also listens on
/// `ORDERD_TEST_PG_OTHER_HOST` (127.0.0.2), a name its certificate does not carry. Whether a connection is
/// encrypted is asked of the server (`pg_stat_ssl`), not of the client's settings.
extension PostgresBackedSuites {
@Suite(.enabled(if: TestPostgres.tlsSkipReason == nil, Comment(rawValue: TestPostgres.tlsSkipReason ?? "TLS certificates made")), .serialized)
struct PostgresTLSTests {
    /// A fresh database, reached with `query` (and optionally another host).
    static func configuration(query: String, host: String? = nil) throws -> OrderdConfiguration {
        var configuration = try TestPostgres.freshDatabase()
        configuration.store.url = TestPostgres.url(configuration.store.url, query: query, host: host)
        return configuration
    }

    static func encrypted(_ configuration: OrderdConfiguration) throws -> Bool {
        let store = try PostgresOrderStore(settings: StoreSettings(configuration))
        defer { store.close() }
        return try store.connectionIsEncrypted()
    }

    @Test func verifyFullWithTheRightCAConnectsEncrypted() throws {
        // No sslmode: naming a CA makes verify-full the default.
        let implicit = try Self.configuration(query: "sslrootcert=\(TestPostgres.certificateAuthority)")
        #expect(PostgresURL(implicit.store.url)?.sslMode == .verifyFull)
        #expect(try Self.encrypted(implicit))
        let explicit = try Self.configuration(query: "sslmode=verify-full&sslrootcert=\(TestPostgres.certificateAuthority)")
        #expect(try Self.encrypted(explicit))
    }

    @Test func aWrongCAIsRefusedSayingTheCertificateCouldNotBeVerified() throws {
        let configuration = try Self.configuration(query: "sslrootcert=\(TestPostgres.wrongCertificateAuthority)")
        let error = #expect(throws: StoreError.self) { try PostgresOrderStore(settings: StoreSettings(configuration)) }
        #expect(error?.code == .unavailable)
        let text = error.map { String(reflecting: $0) } ?? ""
        #expect(text.contains("certificate could not be verified"), "\(text)")
        #expect(text.contains(TestPostgres.wrongCertificateAuthority), "names the CA file: \(text)")
    }

    @Test func aHostNameTheCertificateDoesNotNameIsRefusedSayingSo() throws {
        let configuration = try Self.configuration(
            query: "sslrootcert=\(TestPostgres.certificateAuthority)", host: TestPostgres.otherHost)
        let error = #expect(throws: StoreError.self) { try PostgresOrderStore(settings: StoreSettings(configuration)) }
        #expect(error?.code == .unavailable)
        let text = error.map { String(reflecting: $0) } ?? ""
        #expect(text.contains("does not match the host name '\(TestPostgres.otherHost)'"), "\(text)")
    }

    @Test func verifyFullWithoutACAUsesTheSystemTrustStoreAndRefusesATestCertificate() throws {
        let configuration = try Self.configuration(query: "sslmode=verify-full")
        let error = #expect(throws: StoreError.self) { try PostgresOrderStore(settings: StoreSettings(configuration)) }
        let text = error.map { String(reflecting: $0) } ?? ""
        #expect(text.contains("could not be verified") && text.contains("system trust store"), "\(text)")
    }

    @Test func requireEncryptsWithoutVerifying() throws {
        // Reached by a name the certificate does not carry: require checks neither chain nor name (as libpq).
        let configuration = try Self.configuration(query: "sslmode=require", host: TestPostgres.otherHost)
        #expect(try Self.encrypted(configuration))
    }

    @Test func disableDoesNotEncrypt() throws {
        let configuration = try Self.configuration(query: "sslmode=disable")
        #expect(try Self.encrypted(configuration) == false)
    }

    @Test func aMissingCAFileIsNamed() throws {
        let configuration = try Self.configuration(query: "sslrootcert=/nonexistent/orderd-ca.pem")
        let error = #expect(throws: StoreError.self) { try PostgresOrderStore(settings: StoreSettings(configuration)) }
        #expect(error.map { String(reflecting: $0) }?.contains("sslrootcert /nonexistent/orderd-ca.pem cannot be read") == true)
    }
}
}
