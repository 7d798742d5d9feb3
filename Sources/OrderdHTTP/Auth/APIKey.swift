import Crypto
import OrderdSupport

/// What a key may do. A route names the one scope it needs; `/healthz` needs none.
package enum Scope: String, Sendable, CaseIterable, Comparable {
    /// `POST /orders`.
    case ordersWrite = "orders:write"
    /// `GET /orders/{id}`: the buyer's phone and email included.
    case ordersRead = "orders:read"
    /// `/status`, `/stats`, `/metrics` (nginx also keeps them to loopback).
    case admin

    package static func < (lhs: Scope, rhs: Scope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// One line of the keys file: who (the id), how to recognise their secret (its SHA-256, never the secret), and
/// what they may do. The id is what logs, the access log and an order's `created_by` show.
package struct APIKey: Sendable, Equatable {
    package var id: String
    package var secretSHA256: [UInt8]
    package var scopes: Set<Scope>
    package var note: String

    package init(id: String, secretSHA256: [UInt8], scopes: Set<Scope>, note: String = "") {
        self.id = id
        self.secretSHA256 = secretSHA256
        self.scopes = scopes
        self.note = note
    }

    /// Every secret starts with this, so a leaked one is recognisable (secret scanners, grep) and cannot be
    /// mistaken for another credential.
    package static let secretPrefix = "od_live_"
    /// Random bytes in a secret: 160 bits, hex-encoded (no characters a shell or a header would mangle).
    static let secretBytes = 20

    /// A new key: a random id and secret. The secret exists only in the return value; the keys file gets `line`.
    package static func generate(id: String? = nil, scopes: Set<Scope>, note: String = "") -> (key: APIKey, secret: String) {
        var generator = SystemRandomNumberGenerator()  // getrandom(2): a cryptographic source on Linux
        let secret = secretPrefix + Hex.encode((0..<secretBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let id = id ?? "key_" + Hex.encode((0..<4).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        return (APIKey(id: id, secretSHA256: sha256(secret), scopes: scopes, note: note), secret)
    }

    /// The keys-file line for this key: `id sha256:<hex> scope,scope note`.
    package var line: String {
        let scopeList = scopes.sorted().map(\.rawValue).joined(separator: ",")
        let base = "\(id) sha256:\(Hex.encode(secretSHA256)) \(scopeList)"
        return note.isEmpty ? base : base + " " + note
    }

    package static func sha256(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Array(secret.utf8))) }

    /// True for an id the keys file accepts: 1–64 of `A–Z a–z 0–9 _ - .` (it goes into log lines unquoted).
    package static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
                return true
            default:
                return false
            }
        }
    }
}
