import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd about our state (`READY=1`, `STOPPING=1`, `STATUS=…`) over `$NOTIFY_SOCKET`, a datagram unix
/// socket, the way sd_notify(3) does. Written here rather than linking libsystemd: the protocol is one
/// `sendto` per message. Does nothing when `$NOTIFY_SOCKET` is unset.
package struct SystemdNotifier: Sendable {
    private let path: String?

    package init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"]
        self.path = (path?.isEmpty ?? true) ? nil : path
    }

    package var isEnabled: Bool { path != nil }

    /// Sends one notification, e.g. `"READY=1\nSTATUS=serving"`. Returns false if it could not be delivered.
    @discardableResult
    package func notify(_ message: String) -> Bool {
        guard let path else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var pathBytes = Array(path.utf8)
        // A leading '@' names an abstract socket: its name starts with a NUL byte.
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }
        guard var address = sockaddr_un(pathBytes: pathBytes) else { return false }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), socketAddress, length) }
            }
        }
        return sent == bytes.count
    }
}
