extension Duration {
    /// Whole milliseconds, rounded down.
    package var millis: Int64 { components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000 }

    /// Whole nanoseconds (saturating).
    package var nanos: Int64 {
        let (seconds, attoseconds) = components
        let (high, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : high &+ attoseconds / 1_000_000_000
    }

    /// Milliseconds with three decimals (`12.345`), for log fields such as `duration_ms`.
    package var millisecondsText: String {
        let micros = components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
        return "\(micros / 1000).\(String(micros % 1000 + 1000).dropFirst())"
    }
}
