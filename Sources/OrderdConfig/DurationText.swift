import OrderdSupport

/// The INI file's duration syntax (`250ms`, `30s`, `10m`, `24h`, `30d`) for command-line options, so
/// `orderd tasks purge --older-than 30d` reads like the configuration.
package enum DurationText {
    /// A whole number with unit `ms`, `s`, `m`, `h` or `d`; nil for anything else.
    package static func parse(_ text: String) -> Duration? { ConfigValue.parseDuration(text) }

    /// The largest unit that represents `duration` exactly.
    package static func format(_ duration: Duration) -> String { ConfigValue.formatDuration(duration) }

    /// Whole milliseconds of `duration`, rounded down.
    package static func millis(_ duration: Duration) -> Int64 { duration.millis }
}
