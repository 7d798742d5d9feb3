/// Masks personal data before it reaches a log line or the audit file.
package enum Redact {
    /// Keeps the first 3 and the last 2 characters: `+8613800138000` → `+86*********00`.
    package static func phone(_ phone: String) -> String {
        guard phone.count > 5 else { return String(repeating: "*", count: phone.count) }
        return phone.prefix(3) + String(repeating: "*", count: phone.count - 5) + phone.suffix(2)
    }

    /// Keeps the first character of the local part and the domain: `anna@example.com` → `a***@example.com`.
    package static func email(_ email: String) -> String {
        guard let at = email.lastIndex(of: "@"), at > email.startIndex else { return "***" }
        return email.prefix(1) + "***" + email[at...]
    }
}
