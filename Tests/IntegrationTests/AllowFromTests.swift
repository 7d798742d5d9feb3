import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `server.allow_from` on a TCP listen, against the real binary: orderd listens on 127.0.0.1 and allows only
/// 127.0.0.2, so the same machine can be both a refused peer (a client from 127.0.0.1) and an allowed one (a
/// client bound to 127.0.0.2). A refused peer gets its connection closed without a byte, is counted in
/// `orderd_connections_refused_total{reason="allow_from"}` and logged with its address.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct AllowFromTests {
    static let allowed = "127.0.0.2"

    /// GET `uri` over FastCGI from the allowed address.
    static func get(_ uri: String, port: Int) throws -> RawHTTPResponse {
        let client = try FastCGIClient(host: "127.0.0.1", port: port, source: allowed)
        try client.send(FastCGIClient.beginRequest() + FastCGIClient.params(FastCGIClient.httpParams(method: "GET", uri: uri))
            + FastCGIClient.record(.stdin, []))
        return try client.readResponse()
    }

    @Test func aPeerOutsideTheListIsClosedUnansweredAndCountedAnAllowedOneIsServed() throws {
        let port = try Stack.freePort()
        let stack = try Stack(settings: ["server": ["listen": "127.0.0.1:\(port)", "allow_from": "\(Self.allowed), ::1"]])
        defer { stack.shutdown() }
        try stack.startOrderd()

        // From 127.0.0.1, sending nothing: closed in order (FIN) before any byte.
        let silent = try FastCGIClient(host: "127.0.0.1", port: port)
        let silentEnd = silent.readUntilClosed()
        #expect(silentEnd.bytes.isEmpty && silentEnd.end == 0, "got \(silentEnd.bytes.count) bytes, end errno \(silentEnd.end)")

        // From 127.0.0.1 with a whole request: no answer. The close may come as a reset (the request was left
        // unread, and the send may even fail once it came); either way not one byte arrives.
        let asking = try FastCGIClient(host: "127.0.0.1", port: port)
        try? asking.send(FastCGIClient.beginRequest() + FastCGIClient.params(FastCGIClient.httpParams(method: "GET", uri: "/healthz"))
            + FastCGIClient.record(.stdin, []))
        let askingEnd = asking.readUntilClosed()
        #expect(askingEnd.bytes.isEmpty && (askingEnd.end == 0 || askingEnd.end == ECONNRESET),
                "got \(askingEnd.bytes.count) bytes, end errno \(askingEnd.end)")

        // From 127.0.0.2: served.
        #expect(try Self.get("/healthz", port: port).status == 200)
        let metrics = try Self.get("/metrics", port: port)
        #expect(metrics.status == 200)
        let scrape = MetricsScrape(String(decoding: metrics.body, as: UTF8.self))
        #expect(scrape[#"orderd_connections_refused_total{reason="allow_from"}"#] == 2, "\(metrics.bodyText.prefix(400))")

        // Logged with the peer's address, at most one line per 10 s (so one or two lines for these two).
        let lines = stack.orderdLog.split(separator: "\n").filter { $0.contains("peer not in server.allow_from") }
        #expect((1...2).contains(lines.count), "\(lines)")
        #expect(lines.first?.contains("peer=127.0.0.1") == true, "\(lines)")
        #expect(stack.orderd?.isRunning == true)

        // A reload takes a new list for the connections that come afterwards: now 127.0.0.1 is served too.
        try stack.rewriteConfig(["server": ["allow_from": "127.0.0.0/8"]])
        let pid = try #require(stack.orderd?.processIdentifier)
        kill(pid, SIGHUP)
        #expect(pollUntil(.seconds(30)) { stack.orderdLog.contains("msg=\"configuration reloaded\"") }, "\(stack.orderdLog.suffix(2000))")
        let reloaded = try FastCGIClient(host: "127.0.0.1", port: port)
        try reloaded.send(FastCGIClient.beginRequest() + FastCGIClient.params(FastCGIClient.httpParams(method: "GET", uri: "/healthz"))
            + FastCGIClient.record(.stdin, []))
        #expect(try reloaded.readResponse().status == 200)
    }

    @Test func checkConfigWarnsAboutAnOpenTCPListen() throws {
        let port = try Stack.freePort()
        let stack = try Stack(settings: ["server": ["listen": "0.0.0.0:\(port)"]])
        defer { stack.shutdown() }
        let open = try Stack.run(Stack.binary, ["check-config", "--config", stack.configPath])
        #expect(open.status == 0)
        #expect(open.output.contains("orderd: warning: server.listen is 0.0.0.0:\(port), reachable from other machines, and server.allow_from is empty"), "\(open.output)")
        try stack.rewriteConfig(["server": ["allow_from": "10.0.0.0/8"]])
        let guarded = try Stack.run(Stack.binary, ["check-config", "--config", stack.configPath])
        #expect(guarded.status == 0 && !guarded.output.contains("warning"), "\(guarded.output)")
    }
}
