import OrderdConfig
import OrderdSupport

/// The SQL of `sms_recipients` (`task.sms.per_recipient`) on SQLite: read a recipient's recent sends, decide
/// with `RecipientThrottle`, write them back. Runs on the writer thread inside the order's savepoint, so the
/// single writer makes the check and the write one step: exact, however many request threads send orders.
enum RecipientRows {
    static let select = "SELECT sent_ms FROM sms_recipients WHERE recipient = ?1"
    static let upsert = """
        INSERT INTO sms_recipients (recipient, sent_ms, last_ms) VALUES (?1, ?2, ?3)
        ON CONFLICT (recipient) DO UPDATE SET sent_ms = excluded.sent_ms, last_ms = excluded.last_ms
        """
    // Through `sms_recipients_by_last`: a probe of the index's oldest end, nothing walked when nothing is stale.
    static let forget = """
        DELETE FROM sms_recipients WHERE recipient IN (
            SELECT recipient FROM sms_recipients WHERE last_ms < ?1 AND recipient <> ?2 ORDER BY last_ms LIMIT ?3)
        """

    /// Records one more SMS to `phone` at `nowMillis` if it fits `limit`; false (nothing written) when it is
    /// throttled. Also forgets a few recipients whose last SMS is older than any window.
    static func admit(phone: String, nowMillis: Int64, limit: RecipientLimit, on connection: SQLiteConnection) throws(StoreError) -> Bool {
        let key = RecipientThrottle.key(phone: phone)
        var sent: [Int64] = []
        do {
            let statement = try connection.cached(select)
            defer { statement.reset() }
            try statement.bind(1, blob: key)
            if try statement.step() { sent = decode(statement.text(0)) }
        }
        guard let kept = RecipientThrottle.admit(sent, nowMillis: nowMillis, limit: limit) else { return false }
        do {
            let statement = try connection.cached(upsert)
            defer { statement.reset() }
            try statement.bind(1, blob: key)
            try statement.bind(2, encode(kept))
            try statement.bind(3, nowMillis)
            try statement.step()
        }
        let statement = try connection.cached(forget)
        defer { statement.reset() }
        try statement.bind(1, nowMillis - RecipientThrottle.forgetAfter.millis)
        try statement.bind(2, blob: key)
        try statement.bind(3, Int64(RecipientThrottle.forgetPerOrder))
        try statement.step()
        return true
    }

    /// `sent_ms` is the times as decimal integers, comma-separated, oldest first (at most `count` of them).
    static func encode(_ times: [Int64]) -> String {
        times.map(String.init).joined(separator: ",")
    }

    static func decode(_ text: String) -> [Int64] {
        text.split(separator: ",").compactMap { Int64($0) }
    }
}
