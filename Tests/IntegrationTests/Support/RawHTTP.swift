import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A deliberately small HTTP/1.1 client over a plain TCP socket, so tests can send exactly the bytes they mean
/// (lying Content-Length, odd methods, broken headers) and read exactly what came back.
struct RawHTTPResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    var bodyText: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// The body parsed as a JSON object (Foundation's parser is fine in tests).
    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    /// `error.code` of an error body.
    var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }
}

enum RawHTTP {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends `raw` to 127.0.0.1:`port` and reads the response until the server closes the connection.
    /// `source` binds the client end to another loopback address first (127.0.0.2 is not "localhost" to
    /// nginx's `allow` rules).
    ///
    /// `key`: the API key a request line gets, as an `Authorization: Bearer` header after the request line,
    /// unless the bytes already carry an Authorization header (or `key` is nil). Only an `HTTP/1.x` request
    /// line gets it, so malformed and HTTP/0.9 requests are sent exactly as written.
    static func send(
        _ raw: [UInt8], port: Int, from source: String? = nil, timeout: Duration = .seconds(20), key: String? = TestKeys.all
    ) throws -> RawHTTPResponse {
        try parse(sendReceivingBytes(authorized(raw, key: key), port: port, from: source, timeout: timeout))
    }

    static func authorized(_ raw: [UInt8], key: String?) -> [UInt8] {
        guard let key, let lineEnd = raw.firstRange(of: Array("\r\n".utf8)) else { return raw }
        let requestLine = String(decoding: raw[..<lineEnd.lowerBound], as: UTF8.self)
        guard requestLine.hasSuffix(" HTTP/1.1") || requestLine.hasSuffix(" HTTP/1.0") else { return raw }
        let headEnd = raw.firstRange(of: Array("\r\n\r\n".utf8))?.lowerBound ?? raw.endIndex
        if String(decoding: raw[..<headEnd], as: UTF8.self).lowercased().contains("\r\nauthorization:") { return raw }
        return Array(raw[..<lineEnd.upperBound]) + Array("Authorization: Bearer \(key)\r\n".utf8) + Array(raw[lineEnd.upperBound...])
    }

    /// Sends `raw` and returns every byte the server sent until it closed the connection, unparsed (an
    /// HTTP/0.9 answer has no status line).
    static func sendReceivingBytes(_ raw: [UInt8], port: Int, from source: String? = nil, timeout: Duration = .seconds(20)) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw Failure(description: "bind to \(source) failed: errno \(errno)") }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect to port \(port) failed: errno \(errno)") }
        var offset = 0
        while offset < raw.count {
            let sent = raw.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { break }  // the server may answer and close before reading everything (413)
            offset += sent
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 {
                if count < 0 && received.isEmpty { throw Failure(description: "no response (errno \(errno))") }
                break
            }
            received.append(contentsOf: buffer[0..<count])
        }
        return received
    }

    /// A request with `Connection: close` and the given headers; `Content-Length` is added for a body unless
    /// the headers already carry one (or `contentLength: false`).
    static func request(
        _ method: String, _ path: String, port: Int, headers: [(String, String)] = [], body: [UInt8]? = nil,
        contentLength: Bool = true, key: String? = TestKeys.all
    ) throws -> RawHTTPResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body, contentLength, !headers.contains(where: { $0.0.lowercased() == "content-length" }) {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        return try send(Array(head.utf8) + (body ?? []), port: port, key: key)
    }

    static func json(
        _ method: String, _ path: String, port: Int, body: String, headers: [(String, String)] = [], key: String? = TestKeys.all
    ) throws -> RawHTTPResponse {
        try request(method, path, port: port, headers: [("Content-Type", "application/json")] + headers, body: Array(body.utf8), key: key)
    }

    static func parse(_ bytes: [UInt8]) throws -> RawHTTPResponse {
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw Failure(description: "incomplete response: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure(description: "bad status line \(head)") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            // A repeated header is one comma-separated list (RFC 9110 §5.3), e.g. two WWW-Authenticate challenges.
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[line[..<colon].lowercased(), default: ""].append(headers[line[..<colon].lowercased()] == nil ? value : ", " + value)
        }
        var body = Array(bytes[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return RawHTTPResponse(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ data: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        var index = 0
        while index < data.count {
            guard let lineEnd = data[index...].firstRange(of: Array("\r\n".utf8)) else { break }
            let sizeText = String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            result.append(contentsOf: data[start..<min(start + size, data.count)])
            index = start + size + 2
        }
        return result
    }
}
