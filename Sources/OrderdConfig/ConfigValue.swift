import OrderdSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How one configuration value type is read from and written to INI text.
///
/// `parse` returns `nil` for anything invalid, out of range included; the loader then reports
/// `expected \(expected).` so every bad value of a key gets the same, complete explanation.
struct ConfigValueType<Value>: Sendable {
    /// Completes "expected ...", e.g. `an integer from 1 to 256`.
    let expected: String
    let parse: @Sendable (String) -> Value?
    /// The INI text for a value, unquoted; `parse(format(v)) == v` for every valid `v`.
    let format: @Sendable (Value) -> String
    /// The allowed range of a duration key, so budgets built from several keys (the stop's) can be checked
    /// against the worst case the schema allows.
    var durationRange: ClosedRange<Duration>? = nil
    /// How values of this type may be shown; a key marked `secret: true` is masked whole whatever its type.
    var sensitivity: ConfigKey.Sensitivity = .plain
    /// Why `text` was refused, for the cases `expected` does not explain; never quotes `text`.
    var refusalReason: @Sendable (String) -> String? = { _ in nil }
}

extension ConfigValueType where Value == Int {
    /// A decimal integer within `range`.
    static func integer(_ range: ClosedRange<Int>) -> Self {
        Self(expected: "an integer from \(range.lowerBound) to \(range.upperBound)",
             parse: { Int($0).flatMap { range.contains($0) ? $0 : nil } },
             format: { String($0) })
    }

    /// A byte count within `range`: `512`, `64k`, `16m`, `1g` (binary: 1k = 1024).
    static func size(_ range: ClosedRange<Int>) -> Self {
        Self(expected: "a size from \(ConfigValue.formatSize(range.lowerBound)) to \(ConfigValue.formatSize(range.upperBound)) (bytes, or a whole number with suffix k, m or g)",
             parse: { ConfigValue.parseSize($0).flatMap { range.contains($0) ? $0 : nil } },
             format: ConfigValue.formatSize)
    }
}

extension ConfigValueType where Value == Duration {
    /// A duration within `range`: a whole number with unit `ms`, `s`, `m`, `h` or `d`.
    static func duration(_ range: ClosedRange<Duration>) -> Self {
        Self(expected: "a duration from \(ConfigValue.formatDuration(range.lowerBound)) to \(ConfigValue.formatDuration(range.upperBound)) (a whole number with unit ms, s, m, h or d)",
             parse: { ConfigValue.parseDuration($0).flatMap { range.contains($0) ? $0 : nil } },
             format: ConfigValue.formatDuration, durationRange: range)
    }
}

extension ConfigValueType where Value == Bool {
    /// `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`, in any letter case.
    static var boolean: Self {
        Self(expected: "true or false (or yes/no, on/off, 1/0)",
             parse: ConfigValue.parseBool,
             format: { $0 ? "true" : "false" })
    }
}

extension ConfigValueType where Value == UInt32 {
    /// A file mode in octal with a leading zero, e.g. `0660`, within `range`.
    static func octalMode(_ range: ClosedRange<UInt32>) -> Self {
        Self(expected: "an octal mode from \(ConfigValue.formatOctalMode(range.lowerBound)) to \(ConfigValue.formatOctalMode(range.upperBound)) with a leading zero, such as 0660",
             parse: { ConfigValue.parseOctalMode($0).flatMap { range.contains($0) ? $0 : nil } },
             format: ConfigValue.formatOctalMode)
    }
}

extension ConfigValueType where Value == ListenAddress {
    /// An absolute unix socket path, or `address:port` with an IP address (`[v6addr]:port` for IPv6).
    static var listenAddress: Self {
        Self(expected: "an absolute unix socket path of at most \(ConfigValue.maxSocketPathBytes) bytes, or IP:port such as 127.0.0.1:9000 or [::1]:9000 with a port from 1 to 65535",
             parse: ConfigValue.parseListenAddress,
             format: ConfigValue.formatListenAddress)
    }
}

extension ConfigValueType where Value == AllowedPeers {
    /// IP addresses and CIDR blocks, IPv4 or IPv6, separated by commas or blanks; nothing for every peer.
    static var allowedPeers: Self {
        Self(expected: "IP addresses or CIDR blocks (IPv4 or IPv6, such as 10.0.0.0/8, 127.0.0.1, fd00::/8) separated by commas or blanks, or nothing for every peer",
             parse: { AllowedPeers($0) },
             format: { $0.text })
    }
}

extension ConfigValueType where Value == String {
    /// An absolute file path.
    static var absolutePath: Self {
        Self(expected: "an absolute file path",
             parse: { ConfigValue.isAbsolutePath($0) ? $0 : nil },
             format: { $0 })
    }

    /// A group name (looked up with getgrnam when the socket is created), or empty for "the process's own group".
    static var groupName: Self {
        Self(expected: "a group name, or nothing for the process's own group",
             parse: { ConfigValue.isGroupName($0) ? $0 : nil },
             format: { $0 })
    }
}

extension ConfigValueType where Value == String {
    /// An absolute file path, or nothing.
    static var optionalAbsolutePath: Self {
        Self(expected: "an absolute file path, or nothing",
             parse: { ConfigValue.isAbsolutePath($0) || $0.isEmpty ? $0 : nil },
             format: { $0 })
    }

    /// Where a `*_file` key's secret lives: an absolute path or `credential:<name>` (`SecretFile`), or nothing.
    static var secretFile: Self {
        Self(expected: "an absolute file path, credential:<name> (systemd LoadCredential=), or nothing",
             parse: { $0.isEmpty || SecretFile.isValidReference($0) ? $0 : nil },
             format: { $0 }, sensitivity: .secretLocation)
    }

    /// Like `secretFile`, for a key that must name one.
    static var requiredSecretFile: Self {
        Self(expected: "an absolute file path or credential:<name> (systemd LoadCredential=)",
             parse: { SecretFile.isValidReference($0) ? $0 : nil },
             format: { $0 }, sensitivity: .secretLocation)
    }

    /// A `postgres://` URL without a password (`PostgresURL`), or nothing.
    static var postgresURL: Self {
        Self(expected: "a URL such as postgres://orderd@db.example:5432/orderd?sslrootcert=/etc/orderd/pg-ca.pem, without a password (use store.password_file or $PGPASSWORD), or nothing",
             parse: { $0.isEmpty || PostgresURL($0) != nil ? $0 : nil },
             format: { $0 }, sensitivity: .url, refusalReason: PostgresURL.refusalReason)
    }

    /// An `http://` or `https://` URL with a host, or nothing.
    static var httpURL: Self {
        Self(expected: "an http:// or https:// URL with a host, such as http://127.0.0.1:9000/sms, or nothing",
             parse: { ConfigValue.isHTTPURL($0) || $0.isEmpty ? $0 : nil },
             format: { $0 }, sensitivity: .url,
             refusalReason: { $0.contains("@") ? "user info (user:password@) in the URL is refused" : nil })
    }
}

extension ConfigValueType where Value == Int? {
    /// A decimal integer within `range`, or `auto` (nil) for "orderd chooses".
    static func integerOrAuto(_ range: ClosedRange<Int>) -> Self {
        let plain = ConfigValueType<Int>.integer(range)
        return Self(expected: "auto or " + plain.expected,
                    parse: { text in text == "auto" ? .some(nil) : plain.parse(text).map { .some($0) } },
                    format: { $0.map(plain.format) ?? "auto" })
    }
}

extension ConfigValueType where Value == Duration? {
    /// A duration within `range`, or nothing for "the default of another key".
    static func optionalDuration(_ range: ClosedRange<Duration>) -> Self {
        let plain = ConfigValueType<Duration>.duration(range)
        return Self(expected: plain.expected + ", or nothing for executor.task_timeout",
                    parse: { text in text.isEmpty ? .some(nil) : plain.parse(text).map { .some($0) } },
                    format: { $0.map(plain.format) ?? "" }, durationRange: range)
    }
}

extension ConfigValueType where Value == RecipientLimit? {
    /// `count/duration` such as `5/1h`, or `off` (also `0`) for no limit.
    static func recipientLimit(count: ClosedRange<Int>, window: ClosedRange<Duration>) -> Self {
        let windows = ConfigValueType<Duration>.duration(window)
        return Self(
            expected: "a count from \(count.lowerBound) to \(count.upperBound), a slash and a duration from \(ConfigValue.formatDuration(window.lowerBound)) to \(ConfigValue.formatDuration(window.upperBound)), such as 5/1h; or off (or 0) for no limit",
            parse: { text in
                if text == "off" || text == "0" { return .some(nil) }
                let parts = text.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                      let limit = Int(parts[0]), count.contains(limit), let duration = windows.parse(String(parts[1]))
                else { return nil }
                return .some(RecipientLimit(count: limit, window: duration))
            },
            format: { $0.map { "\($0.count)/\(ConfigValue.formatDuration($0.window))" } ?? "off" })
    }
}

extension ConfigValueType where Value: RawRepresentable & CaseIterable & Sendable, Value.RawValue == String {
    /// One of the enum's raw values, case-sensitive.
    static var enumeration: Self {
        let names = Value.allCases.map(\.rawValue)
        return Self(expected: names.count == 1 ? names[0] : "one of \(names.joined(separator: ", "))",
                    parse: { Value(rawValue: $0) },
                    format: { $0.rawValue })
    }
}

/// Parsing and formatting of the value syntaxes, independent of any key.
package enum ConfigValue {
    /// `sun_path` is 108 bytes on Linux, one of which is the terminating NUL.
    static let maxSocketPathBytes = 107

    private static func isDigits(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }

    // MARK: Durations

    private static let durationUnits: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]

    /// `250ms`, `2s`, `1m`, `1h`, `1d`. A unit is required, even for zero: a bare `30` is
    /// ambiguous (seconds? milliseconds?) and we reject it rather than guess.
    static func parseDuration(_ text: String) -> Duration? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text[digits.endIndex...]
        guard isDigits(digits), let count = Int64(digits),
              let scale = durationUnits.first(where: { $0.suffix == unit })?.milliseconds
        else { return nil }
        let (ms, overflow) = count.multipliedReportingOverflow(by: scale)
        return overflow ? nil : .milliseconds(ms)
    }

    /// The largest unit that represents the duration exactly: `250ms`, `30s`, `10m`, `24h`, `30d`.
    /// Days are used from two days on, so the common one-day TTL reads `24h`.
    /// Sub-millisecond parts (never produced by parsing) are truncated.
    package static func formatDuration(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if ms == 0 { return "0s" }
        if ms % 86_400_000 == 0 && ms >= 2 * 86_400_000 { return "\(ms / 86_400_000)d" }
        for (suffix, scale) in durationUnits.dropLast().reversed() where ms % scale == 0 {
            return "\(ms / scale)\(suffix)"
        }
        return "\(ms)ms"
    }

    // MARK: Sizes

    private static let sizeUnits: [(suffix: Character, bytes: Int)] = [("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30)]

    /// `512`, `64k`, `1m`, `1g` (binary multiples; suffix in either case, as in php.ini's `128M`).
    static func parseSize(_ text: String) -> Int? {
        var digits = Substring(text)
        var scale = 1
        if let last = text.last, let unit = sizeUnits.first(where: { String($0.suffix) == last.lowercased() }) {
            digits = digits.dropLast()
            scale = unit.bytes
        }
        guard isDigits(digits), let count = Int(digits) else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: scale)
        return overflow ? nil : bytes
    }

    /// The largest binary unit that represents the size exactly: `512`, `64k`, `16m`, `1g`.
    static func formatSize(_ bytes: Int) -> String {
        if bytes != 0 {
            for (suffix, scale) in sizeUnits.reversed() where bytes % scale == 0 {
                return "\(bytes / scale)\(suffix)"
            }
        }
        return String(bytes)
    }

    // MARK: Booleans

    static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: return nil
        }
    }

    // MARK: Octal modes

    /// `0660`: a leading zero, then octal digits. A plain `660` is rejected: it reads as decimal.
    static func parseOctalMode(_ text: String) -> UInt32? {
        guard text.first == "0", text.utf8.count <= 8, text.utf8.allSatisfy({ (0x30...0x37).contains($0) }) else { return nil }
        return UInt32(text, radix: 8)
    }

    /// At least four digits with the leading zero: `0660`, `0007`.
    static func formatOctalMode(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return "0" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }

    // MARK: Listen addresses

    /// `/abs/path.sock` → `.unix`; `127.0.0.1:9000` or `[::1]:9000` → `.tcp`. Relative paths are rejected:
    /// a daemon's working directory is `/`, so they would not mean what ops expect. Host names are
    /// rejected too: the listener binds IP addresses only (no resolver at startup), and
    /// `check-config` should fail on whatever `serve` would fail on.
    static func parseListenAddress(_ text: String) -> ListenAddress? {
        if text.hasPrefix("/") {
            guard isAbsolutePath(text), text.utf8.count <= maxSocketPathBytes else { return nil }
            return .unix(path: text)
        }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = text[..<colon]
        let portText = text[text.index(after: colon)...]
        guard isDigits(portText), let port = Int(portText), (1...65535).contains(port) else { return nil }
        if host.first == "[" && host.last == "]" {
            let bare = String(host.dropFirst().dropLast())
            return isIPAddress(bare, family: AF_INET6) ? .tcp(host: bare, port: port) : nil
        }
        return isIPAddress(String(host), family: AF_INET) ? .tcp(host: String(host), port: port) : nil
    }

    private static func isIPAddress(_ text: String, family: Int32) -> Bool {
        var buffer = (UInt64(0), UInt64(0)) // room for in6_addr
        return withUnsafeMutableBytes(of: &buffer) { inet_pton(family, text, $0.baseAddress) } == 1
    }

    static func formatListenAddress(_ address: ListenAddress) -> String {
        switch address {
        case .unix(let path): return path
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    // MARK: Strings

    /// `http://host[:port][/path]` or `https://…`; no blanks, no user info.
    static func isHTTPURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        guard let scheme = ["http://", "https://"].first(where: { lower.hasPrefix($0) }) else { return false }
        let rest = text.dropFirst(scheme.count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@") else { return false }
        return text.allSatisfy { $0.isASCII && !$0.isWhitespace && $0 != "\"" }
    }

    static func isAbsolutePath(_ text: String) -> Bool {
        text.hasPrefix("/") && !text.hasSuffix("/") && !text.contains("\0")
    }

    /// Portable user/group name characters (POSIX), at most 32 of them, not starting with `-`.
    static func isGroupName(_ text: String) -> Bool {
        text.count <= 32 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
            && !text.hasPrefix("-")
    }
}
