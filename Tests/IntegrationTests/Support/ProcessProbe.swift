import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What `/proc` says about a process from the outside: resident memory, open file descriptors (sorted into
/// kinds, TCP connections by remote port), threads, children. Every read tolerates a process that has just
/// exited (nil / empty).
enum ProcessProbe {
    /// The whole of a `/proc` file. Foundation's `String(contentsOfFile:)` stops after the first page of a
    /// procfs file (its size reads as 0), and `/proc/PID/net/tcp` is often longer than that.
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Glibc.read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `VmRSS` from `/proc/PID/status`, in KiB.
    static func rssKiB(_ pid: pid_t) -> Int? {
        guard let text = read("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            // "VmRSS:\t   12345 kB"
            return Int(line.dropFirst("VmRSS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    /// Entries of `/proc/PID/task`: the process's threads.
    static func threadCount(_ pid: pid_t) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task"))?.count
    }

    /// Threads by name (`/proc/PID/task/*/comm`), e.g. `NIO-SGLTN-0-#0`.
    static func threadNames(_ pid: pid_t) -> [String: Int] {
        guard let tids = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return [:] }
        var names: [String: Int] = [:]
        for tid in tids {
            guard let name = read("/proc/\(pid)/task/\(tid)/comm")?.trimmingCharacters(in: .whitespacesAndNewlines) else { continue }
            names[name, default: 0] += 1
        }
        return names
    }

    /// Entries of `/proc/PID/fd`.
    static func fdCount(_ pid: pid_t) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// The targets of `/proc/PID/fd/*` (`socket:[123]`, `/path`, `pipe:[45]`, `anon_inode:[eventfd]`).
    static func fdTargets(_ pid: pid_t) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return [] }
        return names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") }
    }

    /// Socket inodes of IPv4 TCP connections whose remote port is `port` (from `/proc/PID/net/tcp`).
    static func tcpInodes(_ pid: pid_t, remotePort port: Int) -> Set<String> {
        guard let text = read("/proc/\(pid)/net/tcp") else { return [] }
        var inodes: Set<String> = []
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 9, let colon = fields[2].lastIndex(of: ":"),
                  Int(fields[2][fields[2].index(after: colon)...], radix: 16) == port else { continue }
            inodes.insert(String(fields[9]))
        }
        return inodes
    }

    /// Open descriptors by kind: `tcp to :PORT` for connections to `remotePort`, `database` for `databasePath`
    /// and its `-wal` (each SQLite connection holds both), then `socket`, `pipe`, `anon_inode:[eventfd]` (one kind
    /// per anon inode type), `file`.
    static func fdKinds(_ pid: pid_t, remotePort: Int, databasePath: String) -> [String: Int] {
        let peers = tcpInodes(pid, remotePort: remotePort)
        var kinds: [String: Int] = [:]
        for target in fdTargets(pid) {
            let kind: String
            if target.hasPrefix("socket:[") {
                kind = peers.contains(String(target.dropFirst("socket:[".count).dropLast())) ? "tcp to :\(remotePort)" : "socket"
            } else if target.hasPrefix("pipe:") {
                kind = "pipe"
            } else if target.hasPrefix("anon_inode:") {
                kind = target
            } else if target == databasePath || target == databasePath + "-wal" {
                kind = "database"
            } else {
                kind = "file"
            }
            kinds[kind, default: 0] += 1
        }
        return kinds
    }

    /// Processes whose parent is `pid`, from `/proc/*/stat`.
    static func children(of pid: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry -> pid_t? in
            guard let child = pid_t(entry), let stat = read("/proc/\(entry)/stat"),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // After "pid (comm)": state, then ppid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, pid_t(fields[1]) == pid else { return nil }
            return child
        }.sorted()
    }
}

/// A least-squares line through (x, y) points: `slope` in y per x.
struct LinearFit {
    let slope: Double
    let intercept: Double
    let count: Int

    init?(_ points: [(x: Double, y: Double)]) {
        guard points.count >= 3 else { return nil }
        let n = Double(points.count)
        let meanX = points.map(\.x).reduce(0, +) / n
        let meanY = points.map(\.y).reduce(0, +) / n
        let sxx = points.map { ($0.x - meanX) * ($0.x - meanX) }.reduce(0, +)
        guard sxx > 0 else { return nil }
        let sxy = points.map { ($0.x - meanX) * ($0.y - meanY) }.reduce(0, +)
        slope = sxy / sxx
        intercept = meanY - slope * meanX
        count = points.count
    }
}
