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
        var line = LogLine(format: settings.format, priority: settings.journalPriorities ? Self.syslogPriority(event.level) : nil)
        line.timestamp("ts", millis: WallClock.unixMillis())
        line.field("level", event.level.rawValue)
        line.field("msg", event.message.description)
        // The handler's metadata and the event's (the event's wins), in key order: one sorted array of pairs,
        // no key looked up again (a line per order with the SMS log driver, per request with `log.requests`).
        let fields: [(key: String, value: Logger.MetadataValue)]
        if let own = event.metadata, !own.isEmpty {
            fields = (metadata.isEmpty ? own : metadata.merging(own) { _, new in new }).sorted { $0.key < $1.key }
        } else {
            fields = metadata.sorted { $0.key < $1.key }
        }
        for (key, value) in fields { line.field(key, value.description) }
        if event.level >= .error { line.field("source", "\(event.file.split(separator: "/").last ?? ""):\(event.line)") }
        line.close()
        line.bytes.append(UInt8(ascii: "\n"))
        line.bytes.withUnsafeBufferPointer { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
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
}

/// One log line, built straight into its bytes: a logfmt line (`key=value` separated by spaces, a value quoted
/// only when it holds a space, `=`, `"`, a control character or nothing) or a JSON object whose numbers stay
/// numbers. No intermediate strings per field: with `log.requests` a line is written for every request.
struct LogLine {
    var bytes: [UInt8] = []
    private let json: Bool
    private var hasFields = false

    /// `priority`: the `<N>` prefix journald reads (one digit, 2 to 7).
    init(format: OrderdConfiguration.Log.Format, priority: Int? = nil) {
        json = format == .json
        bytes.reserveCapacity(256)
        if let priority {
            bytes.append(UInt8(ascii: "<"))
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: priority))
            bytes.append(UInt8(ascii: ">"))
        }
        if json { bytes.append(UInt8(ascii: "{")) }
    }

    mutating func field(_ key: String, _ value: String) {
        startField(key)
        var value = value
        value.withUTF8 { utf8 in
            // JSON: numbers stay numbers (`"status":201`, `"duration_ms":0.42`), so a log pipeline can compare and
            // sum them, everything else is a string. logfmt: quoted only when it has to be.
            let bare = json
                ? Self.isJSONNumber(utf8)
                : !utf8.isEmpty && !utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") || $0 == 0x7F }
            if bare {
                bytes.append(contentsOf: utf8)
            } else {
                JSONWriter.appendQuoted(utf8, to: &bytes)
            }
        }
    }

    /// `key` with RFC 3339 UTC time of `millis`, written straight into the line (quoted in JSON; logfmt needs
    /// no quotes for it).
    mutating func timestamp(_ key: String, millis: Int64) {
        startField(key)
        if json { bytes.append(UInt8(ascii: "\"")) }
        JSONWriter.appendRFC3339(millis: millis, to: &bytes)
        if json { bytes.append(UInt8(ascii: "\"")) }
    }

    /// The separator before every field but the first, then the key: `"key":` in JSON, `key=` in logfmt.
    private mutating func startField(_ key: String) {
        if hasFields { bytes.append(json ? UInt8(ascii: ",") : UInt8(ascii: " ")) }
        hasFields = true
        if json {
            JSONWriter.appendQuoted(key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
        } else {
            var key = key
            key.withUTF8 { bytes.append(contentsOf: $0) }
            bytes.append(UInt8(ascii: "="))
        }
    }

    /// Ends the JSON object (nothing for logfmt); the caller adds the newline.
    mutating func close() {
        if json { bytes.append(UInt8(ascii: "}")) }
    }

    /// A decimal number of at most 15 significant digits before the point (exact as a double, so a parser
    /// reads back what was meant); longer digit strings, such as ids that happen to be all digits, stay strings.
    static func isJSONNumber(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        var bytes = utf8[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let integer = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }
        guard !integer.isEmpty, integer.count <= 15, integer.count == 1 || integer.first != 0x30 else { return false }
        let rest = bytes.dropFirst(integer.count)
        if rest.isEmpty { return true }
        guard rest.first == UInt8(ascii: "."), rest.count > 1 else { return false }
        return rest.dropFirst().allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
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
