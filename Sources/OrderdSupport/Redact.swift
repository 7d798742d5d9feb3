/// Masks personal data before it reaches a log line or the audit file.
package enum Redact {
    /// Keeps the first 3 and the last 2 characters: `+8613800138000` → `+86*********00`.
    package static func phone(_ phone: String) -> String {
        // A validated number is printable ASCII (E.164), where each byte is a character: no grapheme breaking,
        // once per order in the audit line and the SMS driver's log line. (Not any ASCII: CR LF is one character.)
        let utf8 = phone.utf8
        if utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            let count = utf8.count
            guard count > 5 else { return String(repeating: "*", count: count) }
            return String(unsafeUninitializedCapacity: count) { buffer in
                _ = buffer.initialize(fromContentsOf: utf8.prefix(3))
                buffer[3..<count - 2].initialize(repeating: UInt8(ascii: "*"))
                _ = buffer[(count - 2)...].initialize(fromContentsOf: utf8.suffix(2))
                return count
            }
        }
        guard phone.count > 5 else { return String(repeating: "*", count: phone.count) }
        return phone.prefix(3) + String(repeating: "*", count: phone.count - 5) + phone.suffix(2)
    }

    /// Keeps the first character of the local part and the domain: `anna@example.com` → `a***@example.com`.
    package static func email(_ email: String) -> String {
        guard let at = email.lastIndex(of: "@"), at > email.startIndex else { return "***" }
        return email.prefix(1) + "***" + email[at...]
    }
}
