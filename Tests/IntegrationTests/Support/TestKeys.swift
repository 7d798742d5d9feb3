import OrderdHTTP

/// The API keys every test stack's keys file holds. Secrets fixed for the tests only: the stack's keys file has
/// their SHA-256 like any other, so a request authenticates exactly as in production.
enum TestKeys {
    /// Every scope: what `RawHTTP` and `FastCGIClient.httpParams` send unless a test says otherwise.
    static let all = APIKey.secretPrefix + String(repeating: "a1", count: 20)
    static let writeOnly = APIKey.secretPrefix + String(repeating: "b2", count: 20)
    static let readOnly = APIKey.secretPrefix + String(repeating: "c3", count: 20)
    static let adminOnly = APIKey.secretPrefix + String(repeating: "d4", count: 20)

    static let keys: [(id: String, secret: String, scopes: Set<Scope>)] = [
        ("test-all", all, Set(Scope.allCases)),
        ("test-write", writeOnly, [.ordersWrite]),
        ("test-read", readOnly, [.ordersRead]),
        ("test-admin", adminOnly, [.admin]),
    ]

    /// The keys file text: one line per key, as `orderd keys new` writes them.
    static var fileText: String {
        keys.map { APIKey(id: $0.id, secretSHA256: APIKey.sha256($0.secret), scopes: $0.scopes, note: "integration tests").line }
            .joined(separator: "\n") + "\n"
    }

    static func bearer(_ secret: String = all) -> (String, String) { ("Authorization", "Bearer \(secret)") }
}
