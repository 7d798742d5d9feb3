import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP edge through the real nginx: routing, error shapes, request ids.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct EdgeTests {
    @Test func healthzAnswersOKThroughNginx() throws {
        try withRunningStack { stack in
            let response = try RawHTTP.request("GET", "/healthz", port: stack.port)
            #expect(response.status == 200)
            #expect(response.bodyText == #"{"status":"ok"}"#)
            #expect(response.header("content-type") == "application/json")
            // nginx's $request_id: 32 hex digits, passed as a FastCGI param and echoed by orderd.
            let id = try #require(response.header("x-request-id"))
            #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
        }
    }

    @Test func unknownPathIs404WithTheErrorShape() throws {
        try withRunningStack { stack in
            let response = try RawHTTP.request("GET", "/nope", port: stack.port)
            #expect(response.status == 404)
            let error = try #require(response.json?["error"] as? [String: Any])
            #expect(error["code"] as? String == "not_found")
            #expect((error["message"] as? String)?.isEmpty == false)
            #expect(error["request_id"] as? String == response.header("x-request-id"))
        }
    }

    @Test(arguments: ["POST", "DELETE", "PUT", "PATCH"])
    func wrongMethodIs405WithAllow(method: String) throws {
        try withRunningStack { stack in
            let response = try RawHTTP.request(method, "/healthz", port: stack.port, body: method == "DELETE" ? nil : [])
            #expect(response.status == 405)
            #expect(response.header("allow") == "GET, HEAD")
            #expect(response.errorCode == "method_not_allowed")
        }
    }

    @Test func headIsServedWithoutABody() throws {
        try withRunningStack { stack in
            let response = try RawHTTP.request("HEAD", "/healthz", port: stack.port)
            #expect(response.status == 200)
            #expect(response.body.isEmpty)
        }
    }

    @Test func requestIDsDifferPerRequestAndAppearInTheLog() throws {
        try withRunningStack { stack in
            let first = try RawHTTP.request("GET", "/healthz", port: stack.port).header("x-request-id")
            let second = try RawHTTP.request("GET", "/healthz", port: stack.port).header("x-request-id")
            #expect(first != nil && first != second)
            let log = stack.orderdLog
            #expect(log.contains("request_id=\(first!)"))
        }
    }

    @Test func createdSocketHasModeFromConfig() throws {
        try withRunningStack(settings: ["server": ["listen_mode": "0620"]]) { stack in
            var info = stat()
            #expect(lstat(stack.socketPath, &info) == 0)
            #expect(info.st_mode & S_IFMT == S_IFSOCK)
            #expect(info.st_mode & 0o777 == 0o620)
        }
    }

    @Test func servesASocketHandedOverOnFd0BySpawnFCGI() throws {
        try withRunningStack(launch: .spawnFCGI) { stack in
            let response = try RawHTTP.request("GET", "/healthz", port: stack.port)
            #expect(response.status == 200)
            #expect(stack.orderdLog.contains("socket_from=stdin"))
        }
    }

    @Test func servesASocketHandedOverWithListenFDs() throws {
        try withRunningStack(launch: .socketActivation) { stack in
            let response = try RawHTTP.request("GET", "/healthz", port: stack.port)
            #expect(response.status == 200)
            #expect(stack.orderdLog.contains("socket_from=systemd"))
        }
    }

    @Test func sigtermStopsCleanlyAndRemovesItsSocket() throws {
        try withRunningStack { stack in
            let before = try RawHTTP.request("GET", "/healthz", port: stack.port)
            #expect(before.status == 200)
            let status = stack.stopOrderd(signal: SIGTERM, timeout: .seconds(10))
            #expect(status == 0)
            #expect(!FileManager.default.fileExists(atPath: stack.socketPath))
            // The store was closed cleanly: everything checkpointed into the database, the WAL removed or empty.
            let wal = try? FileManager.default.attributesOfItem(atPath: stack.databasePath + "-wal")
            #expect(wal == nil || (wal?[.size] as? Int) == 0)
            #expect(stack.orderdLog.contains("msg=stopped"))
        }
    }

    @Test func readyIsNotifiedOverNotifySocket() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        let listener = try DatagramListener(path: stack.dir + "/notify.sock")
        try stack.startOrderd(extraEnvironment: ["NOTIFY_SOCKET": listener.path])
        let ready = listener.receive(timeout: .seconds(20))
        #expect(ready?.contains("READY=1") == true)
        stack.stopOrderd(signal: SIGTERM)
        let stopping = listener.receive(timeout: .seconds(5))
        #expect(stopping?.contains("STOPPING=1") == true)
    }
}

/// A unix datagram socket standing in for systemd's `$NOTIFY_SOCKET`.
final class DatagramListener {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un(path: path)!
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw RawHTTP.Failure(description: "bind \(path) failed") }
    }

    deinit { close(fd) }

    func receive(timeout: Duration) -> String? {
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }
}
