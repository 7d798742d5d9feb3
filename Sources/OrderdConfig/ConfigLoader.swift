import OrderdSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads `orderd.ini` into an `OrderdConfiguration`, reporting every problem at once.
///
/// Keys not in the file keep their defaults; an empty file gives the defaults.
package enum ConfigLoader {
    /// Files larger than this are refused, so `-c /dev/zero` fails instead of eating memory.
    static let maxFileBytes = 1 << 20

    /// Reads and validates the configuration file at `path`.
    ///
    /// - Throws: `ConfigError` listing every problem: unreadable file, syntax errors, unknown
    ///   sections or keys, duplicate keys, invalid or out-of-range values.
    package static func load(path: String) throws(ConfigError) -> OrderdConfiguration {
        let text: String
        switch readFile(path) {
        case .success(let contents): text = contents
        case .failure(let reason):
            throw ConfigError(problems: [ConfigProblem(
                kind: .unreadableFile, file: path, line: nil,
                message: "Cannot read configuration file \(path): \(reason.message).")])
        }
        return try parse(text: text, file: path)
    }

    /// Parses and validates configuration text; `file` is only used in messages.
    ///
    /// - Throws: `ConfigError` listing every problem in the text.
    package static func parse(text: String, file: String) throws(ConfigError) -> OrderdConfiguration {
        try parse(text: text, file: file, keys: ConfigSchema.keys)
    }

    /// `parse(text:file:)` against any key table, so tests can exercise e.g. secret keys.
    static func parse(text: String, file: String, keys: [ConfigKey]) throws(ConfigError) -> OrderdConfiguration {
        let document = INIParser.parse(text, file: file)
        var problems = document.problems
        let sections = ConfigSchema.sections(of: keys)

        for header in document.sections where !sections.contains(header.name) {
            let known = sections.map { "[\($0)]" }.joined(separator: ", ")
            problems.append(ConfigProblem(
                kind: .unknownSection, file: file, line: header.line,
                message: "Unknown section '[\(header.name)]' in \(file) line \(header.line); expected one of \(known)."))
        }

        var configuration = OrderdConfiguration()
        // Keys in unknown sections are not reported one by one: the section's problem covers them.
        for entry in document.entries where sections.contains(entry.section) {
            let fullName = "\(entry.section).\(entry.key)"
            guard let key = keys.first(where: { $0.section == entry.section && $0.name == entry.key }) else {
                problems.append(ConfigProblem(
                    kind: .unknownKey, file: file, line: entry.line, key: fullName,
                    message: "Unknown key '\(fullName)' in \(file) line \(entry.line); \(hint(for: entry, keys: keys))"))
                continue
            }
            if !key.assign(entry.value, &configuration) {
                // Secrets and URLs (which may hold a password or a token) are never quoted: these lines go to the
                // journal through ExecStartPre=orderd check-config.
                let quoted = key.sensitivity == .plain || key.sensitivity == .secretLocation
                let shown = quoted ? "Invalid value '\(entry.value)'"
                    : key.sensitivity == .url ? "Invalid value (not shown: a URL may hold a password)" : "Invalid value"
                let reason = key.refusalReason(entry.value).map { "; \($0)" } ?? ""
                problems.append(ConfigProblem(
                    kind: .invalidValue, file: file, line: entry.line, key: fullName,
                    value: quoted ? entry.value : nil,
                    message: "\(shown) for '\(fullName)' in \(file) line \(entry.line)\(reason); expected \(key.expected)."))
            }
        }

        if problems.isEmpty { problems += crossChecks(configuration, document: document, file: file) }
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        return configuration
    }

    /// Rules that involve more than one key.
    private static func crossChecks(_ configuration: OrderdConfiguration, document: INIDocument, file: String) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        if configuration.sms.driver == .http && configuration.sms.gatewayURL.isEmpty {
            let line = document.entries.last { $0.section == "task.sms" && $0.key == "driver" }?.line
            let place = line.map { "\(file) line \($0)" } ?? file
            problems.append(ConfigProblem(
                kind: .invalidValue, file: file, line: line, key: "task.sms.gateway_url", value: "",
                message: "Missing value for 'task.sms.gateway_url' in \(file): 'task.sms.driver' is http in \(place); expected an http:// or https:// URL of the SMS gateway, or driver = log."))
        }
        if !configuration.webhook.url.isEmpty && configuration.webhook.secretFile.isEmpty {
            // Secure by default: a receiver that cannot check where a POST came from accepts forged orders.
            let line = document.entries.last { $0.section == "task.webhook" && $0.key == "url" }?.line
            let place = line.map { "\(file) line \($0)" } ?? file
            problems.append(ConfigProblem(
                kind: .invalidValue, file: file, line: line, key: "task.webhook.secret_file", value: "",
                message: "Missing value for 'task.webhook.secret_file' in \(file): 'task.webhook.url' is set in \(place); expected the file of the secret that signs every webhook (X-Orderd-Signature), such as /etc/orderd/webhook.secret or credential:webhook-secret."))
        }
        if configuration.store.driver == .postgres && configuration.store.url.isEmpty {
            let line = document.entries.last { $0.section == "store" && $0.key == "driver" }?.line
            let place = line.map { "\(file) line \($0)" } ?? file
            problems.append(ConfigProblem(
                kind: .invalidValue, file: file, line: line, key: "store.url", value: "",
                message: "Missing value for 'store.url' in \(file): 'store.driver' is postgres in \(place); expected a URL such as postgres://orderd@127.0.0.1:5432/orderd, or driver = sqlite."))
        }
        if configuration.executor.retryBackoffMax < configuration.executor.retryBackoff {
            let line = document.entries.last { $0.section == "executor" && $0.key == "retry_backoff_max" }?.line
            problems.append(ConfigProblem(
                kind: .invalidValue, file: file, line: line, key: "executor.retry_backoff_max",
                value: ConfigValue.formatDuration(configuration.executor.retryBackoffMax),
                message: "Invalid value '\(ConfigValue.formatDuration(configuration.executor.retryBackoffMax))' for 'executor.retry_backoff_max' in \(file)\(line.map { " line \($0)" } ?? ""); expected at least executor.retry_backoff (\(ConfigValue.formatDuration(configuration.executor.retryBackoff)))."))
        }
        return problems
    }

    /// "did you mean ...?" for a key in the wrong section or within two edits of a known key;
    /// otherwise the section's keys. Ends the sentence.
    private static func hint(for entry: INIDocument.Entry, keys: [ConfigKey]) -> String {
        if let moved = keys.first(where: { $0.name == entry.key }) {
            return "did you mean '\(moved.fullName)'?"
        }
        let inSection = keys.filter { $0.section == entry.section }
        let nearest = inSection
            .map { (key: $0, distance: editDistance(entry.key, $0.name)) }
            .min { $0.distance < $1.distance }
        if let nearest, nearest.distance <= 2 {
            return "did you mean '\(nearest.key.fullName)'?"
        }
        return "expected one of \(inSection.map(\.name).joined(separator: ", "))."
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
    /// transpositions each cost 1, so `reqeust` is one edit from `request`.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }

    private struct ReadFailure: Error {
        var message: String
    }

    /// Reads the whole file with POSIX calls, so failures carry the OS's own wording
    /// ("No such file or directory", "Permission denied", "Is a directory").
    private static func readFile(_ path: String) -> Result<String, ReadFailure> {
        func failure(_ code: Int32) -> Result<String, ReadFailure> {
            .failure(ReadFailure(message: String(cString: strerror(code))))
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return failure(errno) }
        defer { close(fd) }

        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return failure(errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
            if bytes.count > maxFileBytes {
                return .failure(ReadFailure(message: "larger than \(maxFileBytes / 1024 / 1024) MiB"))
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(ReadFailure(message: "not valid UTF-8"))
        }
        return .success(text)
    }
}
