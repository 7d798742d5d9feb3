#if canImport(Glibc)
import Glibc
#endif

/// The process's one wall clock: order timestamps, task due times, leases and the status page all read it, so a
/// test can reason about them together.
package enum WallClock {
    /// Milliseconds since the Unix epoch, UTC.
    package static func unixMillis() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// `millis` as RFC 3339 UTC with milliseconds, e.g. `2026-11-26T23:08:53.123Z`.
    package static func rfc3339(millis: Int64) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        JSONWriter.appendRFC3339(millis: millis, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
