import Logging
import OrderdConfig
import OrderdSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// swift-log's handler for orderd: one line per event on stderr (journald takes it), as logfmt or JSON.
///
/// Written here because swift-log ships only `StreamLogHandler`, whose line format is fixed and is neither
/// logfmt nor JSON. Each line goes out in one `write(2)`, so lines from request threads never interleave.
/// When stderr is the journal's stream (`$JOURNAL_STREAM` names it, as systemd sets it), each line starts with
/// its syslog priority, `<3>` for an error and so on (journald's `SyslogLevelPrefix=`, on by default), so
/// `journalctl -p err` shows the errors.
package struct OrderdLogHandler: LogHandler {
    package var metadata: Logger.Metadata = [:]
    private let label: String
    private let settings: LogSettings

    /// Every handler made with the same `settings` follows its changes: a reload switches level and format
    /// of every logger at once.
    package init(label: String, settings: LogSettings) {
        self.label = label
        self.settings = settings
    }

    /// The process-wide level (`log.level`); setting it changes it for every logger.
    package var logLevel: Logger.Level {
        get { settings.level }
        set { settings.level = newValue }
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("ts", Self.timestamp()), ("level", event.level.rawValue), ("msg", event.message.description),
        ]
        let merged: Logger.Metadata
        if let own = event.metadata, !own.isEmpty {
            merged = metadata.isEmpty ? own : metadata.merging(own) { _, new in new }
        } else {
            merged = metadata
        }
        for key in merged.keys.sorted() { fields.append((key, "\(merged[key]!)")) }
        if event.level >= .error { fields.append(("source", "\(event.file.split(separator: "/").last ?? ""):\(event.line)")) }
        var line = settings.journalPriorities ? "<\(Self.syslogPriority(event.level))>" : ""
        line += settings.format == .json ? Self.json(fields) : Self.logfmt(fields)
        line.append("\n")
        line.withUTF8 { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
    }

    static func logfmt(_ fields: [(String, String)]) -> String {
        fields.map { key, value in
            let needsQuotes = value.isEmpty || value.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") || $0 == 0x7F }
            return needsQuotes ? "\(key)=\(quoted(value))" : "\(key)=\(value)"
        }.joined(separator: " ")
    }

    /// Numbers are JSON numbers (`"status":201`, `"duration_ms":0.42`), so a log pipeline can compare and sum
    /// them; everything else is a string.
    static func json(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(quoted($0.0)):\(isJSONNumber($0.1) ? $0.1 : quoted($0.1))" }.joined(separator: ",") + "}"
    }

    /// A decimal number of at most 15 significant digits before the point (exact as a double, so a parser
    /// reads back what was meant); longer digit strings, such as ids that happen to be all digits, stay strings.
    static func isJSONNumber(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let integer = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }
        guard !integer.isEmpty, integer.count <= 15, integer.count == 1 || integer.first != 0x30 else { return false }
        let rest = bytes.dropFirst(integer.count)
        if rest.isEmpty { return true }
        guard rest.first == UInt8(ascii: "."), rest.count > 1 else { return false }
        return rest.dropFirst().allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// The syslog priority of a level: 7 debug (and trace), 6 info, 5 notice, 4 warning, 3 error, 2 critical.
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// A JSON string literal; logfmt uses the same quoting.
    static func quoted(_ value: String) -> String {
        var writer = JSONWriter(capacity: value.utf8.count + 2)
        writer.string(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// RFC 3339 UTC with milliseconds, by the same hand-written conversion the order answers use.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var writer = JSONWriter(capacity: 32)
        writer.timestamp(millis: Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec / 1_000_000))
        return String(decoding: writer.bytes.dropFirst().dropLast(), as: UTF8.self)
    }
}

/// `log.level` and `log.format`, shared by every logger and changed in place by a reload.
package final class LogSettings: Sendable {
    private let levelIndex: Reloadable<Int>
    private let formatIndex: Reloadable<Int>
    private static let levels = Logger.Level.allCases
    private static let formats = OrderdConfiguration.Log.Format.allCases

    /// Lines start with `<N>`: stderr is the journal's stream.
    package let journalPriorities: Bool

    package init(level: Logger.Level, format: OrderdConfiguration.Log.Format, journalPriorities: Bool = false) {
        levelIndex = Reloadable(Self.levels.firstIndex(of: level) ?? 2)
        formatIndex = Reloadable(Self.formats.firstIndex(of: format) ?? 0)
        self.journalPriorities = journalPriorities
    }

    package convenience init(_ log: OrderdConfiguration.Log, environment: [String: String] = [:]) {
        self.init(
            level: Logger.Level(log.level), format: log.format,
            journalPriorities: Self.stderrIsJournal(environment["JOURNAL_STREAM"]))
    }

    /// systemd sets `$JOURNAL_STREAM` to `<device>:<inode>` of the stream it connected stdout/stderr to; the
    /// variable is inherited, so it counts only when fd 2 is still that stream (not a file a child was
    /// redirected to).
    package static func stderrIsJournal(_ journalStream: String?, fd: Int32 = 2) -> Bool {
        guard let journalStream else { return false }
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    package var level: Logger.Level {
        get { Self.levels[levelIndex.value] }
        set { levelIndex.value = Self.levels.firstIndex(of: newValue) ?? 2 }
    }

    package var format: OrderdConfiguration.Log.Format {
        get { Self.formats[formatIndex.value] }
        set { formatIndex.value = Self.formats.firstIndex(of: newValue) ?? 0 }
    }

    package func apply(_ log: OrderdConfiguration.Log) {
        level = Logger.Level(log.level)
        format = log.format
    }
}
