import OrderdSupport

extension OrderdConfiguration {
    /// The text shown instead of a secret value.
    package static let maskedSecret = "********"

    /// Every section and key with its effective value, in INI syntax, for `orderd check-config`
    /// (like `php-fpm -tt`). Durations read `30s`, `250ms`, `24h`; sizes `64k`; modes `0660`.
    ///
    /// Secret values are shown as `********` (an unset, empty secret stays empty), URLs with their userinfo and
    /// query values as `***` (`ConfigKey.shown`, `SecretMask`). Without secrets and URL parameters, parsing the
    /// output with `ConfigLoader.parse` gives back this configuration.
    package func renderINI() -> String {
        renderINI(keys: ConfigSchema.keys)
    }

    func renderINI(keys: [ConfigKey]) -> String {
        var lines: [String] = []
        for section in ConfigSchema.sections(of: keys) {
            if !lines.isEmpty { lines.append("") }
            lines.append("[\(section)]")
            for key in keys where key.section == section {
                let shown = Self.quotedForINI(key.shown(key.render(self)))
                lines.append(shown.isEmpty ? "\(key.name) =" : "\(key.name) = \(shown)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Quotes `text` when the parser would otherwise change it: surrounding blanks, a leading
    /// quote or comment character, or a ` ;`/` #` that would start an inline comment.
    /// Text with both kinds of quote cannot be written (there are no escapes) and is left bare;
    /// the parser never produces such a value.
    static func quotedForINI(_ text: String) -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        var needsQuotes = false
        if let first = text.first, let last = text.last {
            needsQuotes = blank(first) || blank(last) || "\"';#".contains(first)
        }
        for (previous, current) in zip(text, text.dropFirst()) where blank(previous) && (current == ";" || current == "#") {
            needsQuotes = true
        }
        guard needsQuotes else { return text }
        if !text.contains("\"") { return "\"\(text)\"" }
        if !text.contains("'") { return "'\(text)'" }
        return text
    }
}

extension OrderdConfiguration {
    /// A short fingerprint of the effective configuration (FNV-1a of its INI rendering), shown by `/status`
    /// and logged at start and reload, so ops can tell which file a process runs with.
    package var digest: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in renderINI().utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
