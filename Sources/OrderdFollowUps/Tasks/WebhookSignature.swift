import Crypto
import OrderdSupport

/// `X-Orderd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, Stripe's scheme: the
/// receiver recomputes the MAC over the bytes it received and refuses a `t` outside its replay window (the
/// docs/design.md shows how, `scripts/verify-webhook.py` runs that code). Each attempt signs anew with its own time,
/// so a retry hours later is not refused as a replay.
package struct WebhookSignature: Sendable {
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
        return "t=\(unixSeconds),v1=\(Hex.encode(mac.finalize()))"
    }
}
