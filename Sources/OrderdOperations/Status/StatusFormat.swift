import OrderdSupport

/// Text for the status page: HTML escaping and the few number and time formats it shows, without Foundation.
enum StatusFormat {
    /// `text` safe inside an HTML element or a quoted attribute.
    static func html(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// `value` with exactly `places` decimals (0–6), rounded half away from zero: `decimal(2.345, places: 1)`
    /// is `2.3`. Not finite: `0`.
    static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = (value.magnitude * scale).rounded()
        guard scaled < 1e15 else { return value < 0 ? "-" + String(Int64(value.magnitude)) : String(Int64(value)) }
        let units = Int64(scaled)
        let divisor = Int64(scale)
        let sign = value < 0 && units != 0 ? "-" : ""
        guard places > 0 else { return sign + String(units) }
        let fraction = String(units % divisor)
        return sign + String(units / divisor) + "." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    /// A short human duration: `42 s`, `3 min 05 s`, `2 h 07 min`, `3 d 04 h`.
    static func duration(seconds: Int64) -> String {
        let seconds = max(0, seconds)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        switch seconds {
        case ..<60: return "\(seconds) s"
        case ..<3600: return "\(seconds / 60) min \(two(seconds % 60)) s"
        case ..<86_400: return "\(seconds / 3600) h \(two(seconds / 60 % 60)) min"
        default: return "\(seconds / 86_400) d \(two(seconds / 3600 % 24)) h"
        }
    }

    /// `2026-11-26 23:08:53 UTC`: the RFC 3339 time for a reader.
    static func readableTime(millis: Int64) -> String {
        let exact = timestamp(millis: millis)  // 2026-11-26T23:08:53.123Z
        return String(exact.prefix(10)) + " " + String(exact.dropFirst(11).prefix(8)) + " UTC"
    }

    /// RFC 3339 UTC with milliseconds, as the JSON shows it (`2026-11-26T23:08:53.123Z`).
    static func timestamp(millis: Int64) -> String {
        var writer = JSONWriter(capacity: 32)
        writer.timestamp(millis: millis)
        return String(decoding: writer.bytes.dropFirst().dropLast(), as: UTF8.self)  // without the quotes
    }
}
