import Foundation
@testable import OrderdCore

#if canImport(Glibc)
import Glibc
#endif

/// Speaks FastCGI straight to orderd's unix socket, record by record, so tests can do what nginx never does:
/// stop halfway through a body, send garbage, or hold a request open while the process is told to stop.
final class FastCGIClient {
    enum RecordType: UInt8 {
        case beginRequest = 1, abortRequest = 2, endRequest = 3, params = 4, stdin = 5, stdout = 6, stderr = 7
    }

    private let fd: Int32

    init(socketPath: String, timeout: Duration = .seconds(20)) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un(path: socketPath)!
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw RawHTTP.Failure(description: "connect \(socketPath) failed: errno \(errno)")
        }
    }

    deinit { close(fd) }

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
    static func httpParams(method: String, uri: String, contentType: String? = nil, contentLength: Int? = nil) -> [(String, String)] {
        var pairs = [("REQUEST_METHOD", method), ("REQUEST_URI", uri), ("SERVER_PROTOCOL", "HTTP/1.1")]
        if let contentType { pairs.append(("CONTENT_TYPE", contentType)) }
        if let contentLength { pairs.append(("CONTENT_LENGTH", String(contentLength))) }
        return pairs
    }
}
