import OrderdConfig
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// Finds or creates the socket orderd accepts FastCGI connections on.
///
/// Order of preference: a socket handed over by systemd (`$LISTEN_FDS`/`$LISTEN_PID`, fd 3); a socket on fd 0
/// (`StandardInput=socket`, spawn-fcgi); else `server.listen` from the INI.
package struct ListenSocket: Sendable {
    package enum Origin: String, Sendable { case systemd, stdin, created }

    package let fd: Int32
    package let origin: Origin
    /// What the socket is, for logs: a path or `host:port`.
    package let name: String

    /// Resolves the listening socket for `server`.
    package static func resolve(
        _ server: OrderdConfiguration.Server,
        environment: [String: String]
    ) throws(ListenSocketError) -> ListenSocket {
        if let fds = environment["LISTEN_FDS"], let count = Int(fds), count >= 1,
            let pid = environment["LISTEN_PID"], Int32(pid) == getpid()
        {
            let fd: Int32 = 3
            guard isListeningSocket(fd) else { throw .init("LISTEN_FDS is set but fd 3 is not a listening socket") }
            return ListenSocket(fd: fd, origin: .systemd, name: socketName(fd))
        }
        if isListeningSocket(0) {
            return ListenSocket(fd: 0, origin: .stdin, name: socketName(0))
        }
        switch server.listen {
        case .unix(let path):
            return try createUnix(path: path, mode: server.listenMode, group: server.listenGroup, backlog: server.listenBacklog)
        case .tcp(let host, let port):
            return try createTCP(host: host, port: port, backlog: server.listenBacklog)
        }
    }

    static func isListeningSocket(_ fd: Int32) -> Bool {
        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 else { return false }
        return accepting != 0
    }

    private static func socketName(_ fd: Int32) -> String {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return "fd \(fd)" }
        if address.sun_family == sa_family_t(AF_UNIX) {
            let path = withUnsafeBytes(of: address.sun_path) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            return path.isEmpty ? "fd \(fd) (unix)" : path
        }
        return "fd \(fd) (inet)"
    }

    private static func createUnix(path: String, mode: UInt32, group: String, backlog: Int) throws(ListenSocketError) -> ListenSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .init("cannot create a unix socket", errno: errno) }
        guard var address = sockaddr_un(path: path) else {
            close(fd)
            throw .init("socket path \(path) is longer than \(sockaddr_un.maxPathLength) bytes")
        }
        // A stale socket file from a previous run would make bind fail; only ever remove a socket, never a file.
        var info = stat()
        if lstat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFSOCK {
                unlink(path)
            } else {
                close(fd)
                throw .init("\(path) exists and is not a socket")
            }
        }
        // Bind under a umask that leaves nobody a window between bind and chmod.
        let oldMask = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        let bindErrno = errno
        umask(oldMask)
        guard bound == 0 else {
            close(fd)
            throw .init("cannot bind unix socket \(path)", errno: bindErrno)
        }
        if !group.isEmpty {
            guard let entry = getgrnam(group) else {
                close(fd)
                throw .init("server.listen_group '\(group)' is not a known group")
            }
            if chown(path, uid_t.max, entry.pointee.gr_gid) != 0 {
                let code = errno
                close(fd)
                throw .init("cannot give \(path) to group \(group)", errno: code)
            }
        }
        if chmod(path, mode_t(mode)) != 0 {
            let code = errno
            close(fd)
            throw .init("cannot chmod \(path) to \(String(mode, radix: 8))", errno: code)
        }
        guard listen(fd, Int32(backlog)) == 0 else {
            let code = errno
            close(fd)
            throw .init("cannot listen on \(path)", errno: code)
        }
        return ListenSocket(fd: fd, origin: .created, name: path)
    }

    private static func createTCP(host: String, port: Int, backlog: Int) throws(ListenSocketError) -> ListenSocket {
        let family = host.contains(":") ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .init("cannot create a TCP socket", errno: errno) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var storage = sockaddr_storage()
        let length: Int
        let parsed: Bool = withUnsafeMutableBytes(of: &storage) { raw in
            if family == AF_INET6 {
                let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                address.pointee.sin6_family = sa_family_t(AF_INET6)
                address.pointee.sin6_port = in_port_t(UInt16(port).bigEndian)
                return inet_pton(AF_INET6, host, &address.pointee.sin6_addr) == 1
            }
            let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
            address.pointee.sin_family = sa_family_t(AF_INET)
            address.pointee.sin_port = in_port_t(UInt16(port).bigEndian)
            return inet_pton(AF_INET, host, &address.pointee.sin_addr) == 1
        }
        length = family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
        guard parsed else {
            close(fd)
            throw .init("'\(host)' is not an IP address (server.listen takes an address, not a host name)")
        }
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard bound == 0, listen(fd, Int32(backlog)) == 0 else {
            let code = errno
            close(fd)
            throw .init("cannot listen on \(host):\(port)", errno: code)
        }
        return ListenSocket(fd: fd, origin: .created, name: "\(host):\(port)")
    }
}

/// The listening socket could not be found or created.
package struct ListenSocketError: Error, CustomStringConvertible {
    package let description: String

    init(_ message: String, errno code: Int32? = nil) {
        if let code {
            description = "\(message): \(String(cString: strerror(code))) (errno \(code))."
        } else {
            description = "\(message)."
        }
    }
}
