import Crypto

/// `X-Orderd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, Stripe's scheme: the
/// receiver recomputes the MAC over the bytes it received and refuses a `t` outside its replay window (the
/// docs/design.md shows how, `scripts/verify-webhook.py` runs that code). Each attempt signs anew with its own time,
/// so a retry hours later is not refused as a replay.
struct WebhookSignature: Sendable {
    static let headerName = "X-Orderd-Signature"

    private let key: SymmetricKey

    init(secret: [UInt8]) {
        key = SymmetricKey(data: secret)
    }

    /// The header's value for `body` sent at `unixSeconds`.
    func header(body: [UInt8], unixSeconds: Int64) -> String {
        var mac = HMAC<SHA256>(key: key)
        mac.update(data: Array("\(unixSeconds).".utf8))
        mac.update(data: body)
        return "t=\(unixSeconds),v1=\(Self.hex(Array(mac.finalize())))"
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
