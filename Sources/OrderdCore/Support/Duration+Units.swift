extension Duration {
    /// Whole milliseconds, rounded down.
    var millis: Int64 { components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000 }

    /// Whole nanoseconds (saturating).
    var nanos: Int64 {
        let (seconds, attoseconds) = components
        let (high, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : high &+ attoseconds / 1_000_000_000
    }
}
