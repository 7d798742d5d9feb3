#if canImport(Glibc)
import Glibc
#endif

/// How many CPUs this process may run on.
package enum AvailableCPUs {
    /// The CPUs in the process's affinity mask, as `nproc` counts them (systemd's `CPUAffinity=`, `taskset`), read
    /// once; at least 1. A CPU quota (`CPUQuota=`) does not lower it: the threads may still run on every CPU.
    package static let count: Int = allowedInProcStatus() ?? max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// The `Cpus_allowed_list` line of `/proc/self/status` (`0-3,8`), counted. Read from there because Swift's
    /// Glibc module leaves out `sched_getaffinity` (a `_GNU_SOURCE` function).
    static func allowedInProcStatus() -> Int? {
        let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard got > 0 else { break }
            bytes += chunk[..<got]
        }
        let prefix = Array("Cpus_allowed_list:".utf8)
        for line in bytes.split(separator: UInt8(ascii: "\n")) where line.starts(with: prefix) {
            return count(list: String(decoding: line.dropFirst(prefix.count), as: UTF8.self))
        }
        return nil
    }

    /// CPUs in a kernel CPU list such as `0-3,8,10-11`; nil when it does not read as one.
    static func count(list: String) -> Int? {
        var total = 0
        for part in list.split(separator: ",") {
            let bounds = part.filter { $0 != " " && $0 != "\t" }.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let high = Int(bounds.last!), low <= high
            else { return nil }
            total += high - low + 1
        }
        return total > 0 ? total : nil
    }
}
