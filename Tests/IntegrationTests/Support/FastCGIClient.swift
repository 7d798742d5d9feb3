import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Speaks FastCGI straight to orderd's unix socket, record by record, so tests can do what nginx never does:
/// stop halfway through a body, send garbage, or hold a request open while the process is told to stop.
final class FastCGIClient {
    enum RecordType: UInt8 {
        case beginRequest = 1, abortRequest = 2, endRequest = 3, params = 4, stdin = 5, stdout = 6, stderr = 7
    }

    let fd: Int32

    init(socketPath: String, timeout: Duration = .seconds(20)) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un(path: socketPath)!
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // No close here: an initializer that throws once every property is set still runs deinit, which closes
        // fd; closing it here too closed whatever socket another thread had opened under the same number since.
        guard connected == 0 else {
            throw RawHTTP.Failure(description: "connect \(socketPath) failed: errno \(errno)")
        }
    }

    /// Connects over TCP to `host:port` (IPv4), from `source` when given (a loopback address such as 127.0.0.2,
    /// to be another peer than 127.0.0.1 on the same machine).
    init(host: String, port: Int, source: String? = nil, timeout: Duration = .seconds(20)) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        func address(_ text: String, port: Int) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr(text)
            return address
        }
        if let source {
            var local = address(source, port: 0)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw RawHTTP.Failure(description: "bind \(source) failed: errno \(errno)") }
        }
        var remote = address(host, port: port)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw RawHTTP.Failure(description: "connect \(host):\(port) failed: errno \(errno)") }
    }

    deinit { close(fd) }

    /// What arrives before the peer closes: the bytes, and how it ended (`0` for an orderly close, else the errno
    /// of the failed read: ECONNRESET when the peer closed with data unread, EAGAIN when the read timed out).
    func readUntilClosed() -> (bytes: [UInt8], end: Int32) {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count == 0 { return (bytes, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                return (bytes, errno)
            }
            bytes += chunk[0..<count]
        }
    }

    static func record(_ type: RecordType, requestID: UInt16 = 1, _ content: [UInt8]) -> [UInt8] {
        precondition(content.count <= 65535)
        let padding = (8 - content.count % 8) % 8
        return [1, type.rawValue, UInt8(requestID >> 8), UInt8(requestID & 0xFF),
                UInt8(content.count >> 8), UInt8(content.count & 0xFF), UInt8(padding), 0]
            + content + [UInt8](repeating: 0, count: padding)
    }

    static func beginRequest(requestID: UInt16 = 1, keepConnection: Bool = false) -> [UInt8] {
        record(.beginRequest, requestID: requestID, [0, 1, keepConnection ? 1 : 0, 0, 0, 0, 0, 0])
    }

    static func params(_ pairs: [(String, String)], requestID: UInt16 = 1) -> [UInt8] {
        var content: [UInt8] = []
        func length(_ count: Int) -> [UInt8] {
            count < 128 ? [UInt8(count)]
                : [UInt8((count >> 24) | 0x80), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)]
        }
        for (name, value) in pairs {
            content += length(name.utf8.count) + length(value.utf8.count) + Array(name.utf8) + Array(value.utf8)
        }
        return record(.params, requestID: requestID, content) + record(.params, requestID: requestID, [])
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw RawHTTP.Failure(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    /// Reads records until END_REQUEST (or EOF) and returns the STDOUT stream parsed as a CGI response.
    func readResponse() throws -> RawHTTPResponse {
        var stdout: [UInt8] = []
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        loop: while true {
            while buffer.count >= 8 {
                let length = Int(buffer[4]) << 8 | Int(buffer[5])
                let total = 8 + length + Int(buffer[6])
                guard buffer.count >= total else { break }
                let type = buffer[1]
                if type == RecordType.stdout.rawValue { stdout += buffer[8..<(8 + length)] }
                buffer.removeFirst(total)
                if type == RecordType.endRequest.rawValue { break loop }
            }
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { break }
            buffer += chunk[0..<count]
        }
        // A CGI response: "Status: 201 Created\r\nHeader: v\r\n\r\nbody" -> reuse the HTTP parser.
        let text = Array("HTTP/1.1 ".utf8)
        guard let statusRange = stdout.firstRange(of: Array("Status: ".utf8)), statusRange.lowerBound == 0 else {
            throw RawHTTP.Failure(description: "no Status line in \(String(decoding: stdout.prefix(200), as: UTF8.self))")
        }
        return try RawHTTP.parse(text + stdout[statusRange.upperBound...])
    }

    /// The params nginx would send for a request.
    static func httpParams(
        method: String, uri: String, contentType: String? = nil, contentLength: Int? = nil, key: String? = TestKeys.all
    ) -> [(String, String)] {
        var pairs = [("REQUEST_METHOD", method), ("REQUEST_URI", uri), ("SERVER_PROTOCOL", "HTTP/1.1")]
        if let key { pairs.append(("HTTP_AUTHORIZATION", "Bearer \(key)")) }
        if let contentType { pairs.append(("CONTENT_TYPE", contentType)) }
        if let contentLength { pairs.append(("CONTENT_LENGTH", String(contentLength))) }
        return pairs
    }
}

// MARK: - Records as a fuzzer writes them

extension FastCGIClient {
    /// The FCGI_ROLE values of FCGI_BEGIN_REQUEST.
    enum Role: UInt16 {
        case responder = 1, authorizer = 2, filter = 3
    }

    /// An 8-byte record header with every field as given, lies included.
    static func header(version: UInt8 = 1, type: UInt8, requestID: UInt16 = 1, contentLength: Int, padding: Int = 0) -> [UInt8] {
        [version, type, UInt8(requestID >> 8), UInt8(requestID & 0xFF),
         UInt8((contentLength >> 8) & 0xFF), UInt8(contentLength & 0xFF), UInt8(padding & 0xFF), 0]
    }

    /// A record of any type byte and version, with `padding` bytes of padding (default: to a multiple of 8).
    static func rawRecord(version: UInt8 = 1, type: UInt8, requestID: UInt16 = 1, _ content: [UInt8], padding: Int? = nil) -> [UInt8] {
        precondition(content.count <= 65535)
        let pad = padding ?? (8 - content.count % 8) % 8
        return header(version: version, type: type, requestID: requestID, contentLength: content.count, padding: pad)
            + content + [UInt8](repeating: 0, count: pad)
    }

    static func beginRequest(requestID: UInt16 = 1, role: UInt16, flags: UInt8 = 0, version: UInt8 = 1, contentLength: Int = 8) -> [UInt8] {
        var body: [UInt8] = [UInt8(role >> 8), UInt8(role & 0xFF), flags, 0, 0, 0, 0, 0]
        if contentLength != 8 { body = Array((body + [UInt8](repeating: 0, count: max(0, contentLength - 8))).prefix(contentLength)) }
        return rawRecord(version: version, type: RecordType.beginRequest.rawValue, requestID: requestID, body)
    }

    /// One FastCGI name-value pair; `nameLength`/`valueLength` override the encoded lengths (a 4-byte form when
    /// over 127 or when `longForm`), so a pair can announce more bytes than it carries.
    static func nameValue(_ name: [UInt8], _ value: [UInt8], nameLength: Int? = nil, valueLength: Int? = nil, longForm: Bool = false) -> [UInt8] {
        func length(_ count: Int) -> [UInt8] {
            count < 128 && !longForm ? [UInt8(count)]
                : [UInt8(((count >> 24) & 0x7F) | 0x80), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)]
        }
        return length(nameLength ?? name.count) + length(valueLength ?? value.count) + name + value
    }

    /// Name-value pairs as PARAMS records of at most 65535 bytes each, then the empty PARAMS record.
    static func paramsRecords(_ pairs: [(String, String)], requestID: UInt16 = 1) -> [UInt8] {
        let content = pairs.flatMap { nameValue(Array($0.0.utf8), Array($0.1.utf8)) }
        return streamRecords(.params, content, requestID: requestID)
    }

    /// `content` as records of `type` of at most 65535 bytes, then the empty record that ends the stream.
    static func streamRecords(_ type: RecordType, _ content: [UInt8], requestID: UInt16 = 1) -> [UInt8] {
        var records: [UInt8] = []
        var offset = 0
        while offset < content.count {
            let end = min(offset + 65535, content.count)
            records += record(type, requestID: requestID, Array(content[offset..<end]))
            offset = end
        }
        return records + record(type, requestID: requestID, [])
    }

    /// A whole request as nginx sends it: BEGIN_REQUEST, PARAMS, STDIN.
    static func wholeRequest(_ pairs: [(String, String)], body: [UInt8] = [], requestID: UInt16 = 1, keepConnection: Bool = false) -> [UInt8] {
        beginRequest(requestID: requestID, keepConnection: keepConnection) + paramsRecords(pairs, requestID: requestID)
            + streamRecords(.stdin, body, requestID: requestID)
    }

    /// Sends `bytes` a few at a time with a pause between writes (a slow writer); stops at `deadline`.
    /// Returns false if the peer stopped taking bytes or the deadline passed first.
    @discardableResult
    func sendSlowly(_ bytes: [UInt8], chunk: Int, gap: Duration, deadline: ContinuousClock.Instant) -> Bool {
        var offset = 0
        while offset < bytes.count {
            guard ContinuousClock.now < deadline else { return false }
            let end = min(offset + chunk, bytes.count)
            guard (try? send(Array(bytes[offset..<end]))) != nil else { return false }
            offset = end
            usleep(UInt32(gap.components.attoseconds / 1_000_000_000_000) + UInt32(gap.components.seconds) * 1_000_000)
        }
        return true
    }

    /// Sends what the peer takes and ignores the error when it does not (a fuzzer expects refusals).
    func sendIgnoringErrors(_ bytes: [UInt8]) {
        _ = try? send(bytes)
    }

    /// Shuts the write side: the peer reads EOF but can still answer.
    func halfClose() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// How a reply ended.
    enum ReplyEnd: Equatable, Sendable {
        /// FCGI_END_REQUEST for the request id, with its protocolStatus.
        case endRequest(UInt8)
        /// The peer closed the connection.
        case closed
        /// Nothing more arrived before the deadline.
        case timedOut
    }

    struct Reply: Sendable {
        var end: ReplyEnd
        /// STDOUT bytes of the request id.
        var stdout: [UInt8]
        /// END_REQUEST records for other request ids (FCGI_CANT_MPX_CONN for a second BEGIN_REQUEST).
        var otherEnds: [UInt16: UInt8]
        /// Record types seen, management replies (GET_VALUES_RESULT, UNKNOWN_TYPE) included.
        var types: [UInt8]

        /// The CGI `Status:` of the STDOUT, if any.
        var status: Int? {
            guard stdout.starts(with: Array("Status: ".utf8)) else { return nil }
            return Int(String(decoding: stdout.dropFirst(8).prefix(3), as: UTF8.self))
        }
    }

    /// Reads records until END_REQUEST for `requestID`, EOF, or `deadline`.
    func readReply(requestID: UInt16 = 1, deadline: ContinuousClock.Instant) -> Reply {
        var reply = Reply(end: .timedOut, stdout: [], otherEnds: [:], types: [])
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            while buffer.count >= 8 {
                let length = Int(buffer[4]) << 8 | Int(buffer[5])
                let total = 8 + length + Int(buffer[6])
                guard buffer.count >= total else { break }
                let type = buffer[1]
                let id = UInt16(buffer[2]) << 8 | UInt16(buffer[3])
                reply.types.append(type)
                if type == RecordType.stdout.rawValue && id == requestID { reply.stdout += buffer[8..<(8 + length)] }
                if type == RecordType.endRequest.rawValue {
                    let status = length >= 5 ? buffer[8 + 4] : 0xFF
                    if id == requestID {
                        reply.end = .endRequest(status)
                        return reply
                    }
                    reply.otherEnds[id] = status
                }
                buffer.removeFirst(total)
            }
            guard ContinuousClock.now < deadline else { return reply }
            let count = recv(fd, &chunk, chunk.count, 0)
            if count > 0 {
                buffer += chunk[0..<count]
            } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                reply.end = .closed
                return reply
            }
        }
    }
}

