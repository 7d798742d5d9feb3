import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// swift-log's handler for orderd: one line per event on stderr (journald takes it), as logfmt or JSON.
///
/// Written here because swift-log ships only `StreamLogHandler`, whose line format is fixed and is neither
/// logfmt nor JSON. Each line goes out in one `write(2)`, so lines from request threads never interleave.
public struct OrderdLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let settings: LogSettings

    /// Every handler made with the same `settings` follows its changes: a reload switches level and format
    /// of every logger at once.
    public init(label: String, settings: LogSettings) {
        self.label = label
        self.settings = settings
    }

    /// The process-wide level (`log.level`); setting it changes it for every logger.
    public var logLevel: Logger.Level {
        get { settings.level }
        set { settings.level = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
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
        var line = settings.format == .json ? Self.json(fields) : Self.logfmt(fields)
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

    static func json(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(quoted($0.0)):\(quoted($0.1))" }.joined(separator: ",") + "}"
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
public final class LogSettings: Sendable {
    private let levelIndex: Atomic<Int>
    private let formatIndex: Atomic<Int>
    private static let levels = Logger.Level.allCases
    private static let formats = OrderdConfiguration.Log.Format.allCases

    public init(level: Logger.Level, format: OrderdConfiguration.Log.Format) {
        levelIndex = Atomic(Self.levels.firstIndex(of: level) ?? 2)
        formatIndex = Atomic(Self.formats.firstIndex(of: format) ?? 0)
    }

    public convenience init(_ log: OrderdConfiguration.Log) {
        self.init(level: Logger.Level(log.level), format: log.format)
    }

    public var level: Logger.Level {
        get { Self.levels[levelIndex.load(ordering: .relaxed)] }
        set { levelIndex.store(Self.levels.firstIndex(of: newValue) ?? 2, ordering: .relaxed) }
    }

    public var format: OrderdConfiguration.Log.Format {
        get { Self.formats[formatIndex.load(ordering: .relaxed)] }
        set { formatIndex.store(Self.formats.firstIndex(of: newValue) ?? 0, ordering: .relaxed) }
    }

    public func apply(_ log: OrderdConfiguration.Log) {
        level = Logger.Level(log.level)
        format = log.format
    }
}
