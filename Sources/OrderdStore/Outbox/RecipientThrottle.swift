import Crypto
import OrderdConfig
import OrderdSupport

/// `task.sms.per_recipient`, the decision: whether one more SMS to a recipient fits its limit, given the times
/// of the SMS tasks written for it before. A pure function; the stores keep the times in `sms_recipients` (one
/// row per recipient, keyed by `key(phone:)`) and call it, or do the same in SQL, inside the order's own
/// transaction.
///
/// What counts: every SMS task written pending within the window, whatever became of it later (sent, retried,
/// dead after the gateway refused it): each may have cost a gateway call. A throttled task does not count, so a
/// number kept busy by a pumper gets its SMS again once the window has moved past its last `count` sends.
enum RecipientThrottle {
    /// The row key of a recipient: SHA-256 of its E.164 number (the validator admits no other spelling). Not
    /// anonymous, the space of phone numbers is small, but the table holds no number in clear text.
    static func key(phone: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(phone.utf8)))
    }

    /// The times to keep for the recipient after admitting one more SMS at `nowMillis`, oldest first: those of
    /// `sent` still within the window, then `nowMillis`. Nil when `limit.count` of them are within the window
    /// already: the SMS is throttled and the row stays as it was.
    static func admit(_ sent: [Int64], nowMillis: Int64, limit: RecipientLimit) -> [Int64]? {
        let windowStart = nowMillis - limit.window.millis
        let recent = sent.filter { $0 > windowStart }.sorted()
        guard recent.count < limit.count else { return nil }
        return recent + [nowMillis]
    }

    /// `last_error` of a throttled task.
    static func message(_ limit: RecipientLimit) -> String {
        "throttled: \(limit.count) SMS to this recipient within \(ConfigValue.formatDuration(limit.window)) already (task.sms.per_recipient)"
    }

    /// Rows whose last SMS is older than this before now are deleted a few at a time as orders come in: no
    /// window the key allows reaches back that far.
    static let forgetAfter = RecipientLimit.longestWindow

    /// Stale rows deleted with each order that writes a recipient row: more than the one row it may add, so the
    /// table shrinks to the recipients of the last `forgetAfter`.
    static let forgetPerOrder = 2
}
