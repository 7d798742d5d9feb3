import Foundation
import OrderdFollowUps
import OrderdSupport

/// The keys in force and the order-rate buckets of each: checked on the request thread before any body is read.
/// Replaced whole on SIGHUP, so a revoked key is refused from the next request on.
package final class APIKeyring: Sendable {
    /// Read by every request thread, replaced on reload (see Reloadable).
    private let keys: Reloadable<[APIKey]>
    private let limiter: OrderRateLimiter

    package init(keys: [APIKey], ordersPerMinute: Int) {
        self.keys = Reloadable(keys)
        self.limiter = OrderRateLimiter(perMinute: ordersPerMinute)
    }

    /// The keys now in force (for counts in logs; never their hashes).
    package var count: Int { keys.value.count }

    package func replace(with next: [APIKey]) { keys.value = next }

    /// `auth.orders_per_minute`, live on reload.
    package var ordersPerMinute: Int {
        get { limiter.perMinute }
        set { limiter.perMinute = newValue }
    }

    /// The key an `Authorization` header value presents, if it has `scope`; else the 401 or 403 it deserves.
    ///
    /// The presented secret is hashed once and compared with every key's hash in constant time, without
    /// stopping at a match, so the time taken says nothing about which key or how many bytes matched.
    package func authorize(_ authorization: String?, for scope: Scope) throws(APIError) -> APIKey {
        guard let authorization, !authorization.isEmpty else { throw .unauthorized(.missing, basic: scope == .admin) }
        guard let secret = Self.bearerToken(authorization) ?? Self.basicSecret(authorization) else {
            throw .unauthorized(.malformed, basic: scope == .admin)
        }
        let presented = APIKey.sha256(secret)
        let candidates = keys.value
        var found: APIKey?
        for key in candidates where Self.constantTimeEqual(key.secretSHA256, presented) {
            found = key
        }
        guard let key = found else { throw .unauthorized(.invalid, basic: scope == .admin) }
        guard key.scopes.contains(scope) else { throw .forbidden(keyID: key.id, missing: scope) }
        return key
    }

    /// Takes one order from the key's bucket, or the 429 to answer with its `Retry-After`.
    package func admitOrder(for key: APIKey, now: ContinuousClock.Instant = .now) throws(APIError) {
        if let wait = limiter.take(key.id, now: now) {
            throw .rateLimited(
                "API key '\(key.id)' is over its limit of \(limiter.perMinute) orders per minute.",
                retryAfterSeconds: max(1, Int((wait / .seconds(1)).rounded(.up))))
        }
    }

    /// `Bearer <token>`: the scheme is case-insensitive (RFC 9110 §11.1); the token is the rest, trimmed.
    ///
    /// On the UTF-8 bytes: run for every request, and `Substring.contains(" ")` and `lowercased()` went through
    /// Foundation's string search (perf: about 2% of orderd's CPU per order).
    static func bearerToken(_ value: String) -> String? {
        let space = UInt8(ascii: " ")
        let trimmed = Substring(value).utf8.drop { $0 == space }
        guard trimmed.count > 7,
            zip(trimmed.prefix(7), "bearer ".utf8).allSatisfy({ $0 == $1 || ($1 != space && $0 | 0x20 == $1) })
        else { return nil }
        let token = trimmed.dropFirst(7).drop { $0 == space }
        let end = token.lastIndex { $0 != space }.map { token.index(after: $0) } ?? token.startIndex
        let result = token[..<end]
        return result.isEmpty || result.contains(space) ? nil : String(Substring(result))
    }

    /// `Basic base64(user:password)` with the secret as the password (a browser's login prompt: user name
    /// anything) or as the user name with an empty password (`curl -u od_live_…:`, as Stripe's API takes keys).
    /// For the admin pages in a browser, which cannot send a bearer token.
    static func basicSecret(_ value: String) -> String? {
        let trimmed = value.drop { $0 == " " }
        guard trimmed.count > 6, trimmed.prefix(6).lowercased() == "basic " else { return nil }
        let encoded = trimmed.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard let data = Data(base64Encoded: encoded), let pair = String(data: data, encoding: .utf8),
            let colon = pair.firstIndex(of: ":")
        else { return nil }
        let user = pair[..<colon]
        let password = pair[pair.index(after: colon)...]
        let secret = password.isEmpty ? user : password
        return secret.isEmpty ? nil : String(secret)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// One token bucket per key id for `POST /orders`: `perMinute` tokens, refilled evenly over the minute, so a
/// client may burst up to a minute's worth and then keeps to the rate. `0` turns the limit off.
///
/// In memory, per process: with several instances each allows the rate (the per-recipient SMS limit, the one
/// that protects money, is counted in the database instead).
final class OrderRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let limit: Reloadable<Int>
    // Taken from by every request thread for every order: a pthread mutex, not a `Synchronization.Mutex` (see
    // PThreadLocked).
    private let buckets = PThreadLocked<[String: Bucket]>([:])

    init(perMinute: Int) { limit = Reloadable(perMinute) }

    /// A reload sets it even when unchanged, and every bucket starts full again.
    var perMinute: Int {
        get { limit.value }
        set {
            limit.value = newValue
            buckets.withLock { $0 = [:] }
        }
    }

    /// nil when a token was taken; else how long until the next one.
    func take(_ id: String, now: ContinuousClock.Instant) -> Duration? {
        let perMinute = limit.value
        guard perMinute > 0 else { return nil }
        return buckets.withLock { buckets in
            let capacity = Double(perMinute)
            let perSecond = capacity / 60
            var bucket = buckets[id] ?? Bucket(tokens: capacity, updated: now)
            let elapsed = max(0, (now - bucket.updated) / .seconds(1))
            bucket.tokens = min(capacity, bucket.tokens + elapsed * perSecond)
            bucket.updated = now
            defer { buckets[id] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return .seconds((1 - bucket.tokens) / perSecond)
        }
    }
}
