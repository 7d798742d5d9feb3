/// Shared by the unit and the integration tests (the TestSupport target).
/// One scrape's series, keyed by `name{label="value",…}` with the labels sorted, and what did not parse.
public struct MetricsScrape: Sendable {
    public var values: [String: Double] = [:]
    public var types: [String: String] = [:]
    public var help: [String: String] = [:]
    public var problems: [String] = []

    public init(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let rest = line.dropFirst(7)
                guard let space = rest.firstIndex(of: " ") else {
                    problems.append("bad comment: \(line)")
                    continue
                }
                let family = String(rest[..<space])
                let value = String(rest[rest.index(after: space)...])
                if line.hasPrefix("# HELP ") {
                    if help.updateValue(value, forKey: family) != nil { problems.append("second HELP for \(family)") }
                } else if types.updateValue(value, forKey: family) != nil {
                    problems.append("second TYPE for \(family)")
                }
                continue
            }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                problems.append("bad sample: \(line)")
                continue
            }
            let key = Self.key(line[..<space])
            if values.updateValue(value, forKey: key) != nil { problems.append("duplicate series \(key)") }
        }
    }

    public subscript(_ series: String) -> Double? { values[Self.key(series[...])] }

    /// `name{b="2",a="1"}` → `name{a="1",b="2"}`: the registry emits labels in the order they were made.
    public static func key(_ series: Substring) -> String {
        guard let open = series.firstIndex(of: "{"), series.last == "}" else { return String(series) }
        var pairs: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in series[series.index(after: open)..<series.index(before: series.endIndex)] {
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == ",", !quoted {
                pairs.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        if !current.isEmpty { pairs.append(current) }
        return series[..<open] + "{" + pairs.sorted().joined(separator: ",") + "}"
    }
}
