import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// API keys through the shipped nginx to the real orderd: who gets in, with which scope, revocation by SIGHUP,
/// a keys file others can read, where the key id shows up.
@Suite(.timeLimit(.minutes(10)))
struct AuthIntegrationTests {
    static let order = OrdersIntegrationTests.orderJSON(note: "auth")
    static let someID = "0193a5c0-0000-7000-8000-000000000000"

    /// Every route but /healthz, as (method, path, body).
    static let protectedRoutes: [(String, String, String?)] = [
        ("POST", "/orders", order), ("GET", "/orders/\(someID)", nil), ("HEAD", "/orders/\(someID)", nil),
        ("GET", "/status", nil), ("GET", "/stats", nil), ("GET", "/metrics", nil),
    ]

    static func send(_ route: (String, String, String?), port: Int, key: String?, headers: [(String, String)] = []) throws -> RawHTTPResponse {
        if let body = route.2 { return try RawHTTP.json(route.0, route.1, port: port, body: body, headers: headers, key: key) }
        return try RawHTTP.request(route.0, route.1, port: port, headers: headers, key: key)
    }

    @Test func withoutAKeyEveryRouteButHealthIs401() throws {
        try withRunningStack { stack in
            for route in Self.protectedRoutes {
                for (name, headers) in [("no header", []), ("wrong key", [TestKeys.bearer(TestKeys.all + "0")]),
                                        ("not bearer", [("Authorization", "Token abc")])] as [(String, [(String, String)])] {
                    let response = try Self.send(route, port: stack.port, key: nil, headers: headers)
                    let context = Comment(rawValue: "\(route.0) \(route.1) \(name): \(response.status) \(response.bodyText.prefix(300))")
                    #expect(response.status == 401, context)
                    #expect(response.header("www-authenticate")?.hasPrefix("Bearer realm=\"orderd\"") == true, context)
                    #expect(response.header("x-request-id")?.isEmpty == false, context)
                    #expect(response.header("x-orderd-key") == nil, context)
                    if route.0 != "HEAD" { #expect(response.errorCode == "unauthorized", context) }
                }
            }
            #expect(try RawHTTP.request("GET", "/healthz", port: stack.port, key: nil).status == 200)
            // Nothing was stored by the refused POSTs.
            #expect(try OrdersIntegrationTests.sqlite(stack.databasePath, "SELECT count(*) FROM orders") == "0")
        }
    }

    @Test func aKeyWithoutTheScopeIs403AndWithItPasses() throws {
        try withRunningStack { stack in
            let expectations: [(key: String, route: (String, String, String?), status: Int)] = [
                (TestKeys.readOnly, ("POST", "/orders", Self.order), 403),
                (TestKeys.adminOnly, ("POST", "/orders", Self.order), 403),
                (TestKeys.writeOnly, ("GET", "/orders/\(Self.someID)", nil), 403),
                (TestKeys.writeOnly, ("GET", "/status", nil), 403),
                (TestKeys.readOnly, ("GET", "/metrics", nil), 403),
                (TestKeys.writeOnly, ("POST", "/orders", Self.order), 201),
                (TestKeys.readOnly, ("GET", "/orders/\(Self.someID)", nil), 404),
                (TestKeys.adminOnly, ("GET", "/status", nil), 200),
                (TestKeys.adminOnly, ("GET", "/stats", nil), 200),
                (TestKeys.adminOnly, ("GET", "/metrics", nil), 200),
            ]
            for expectation in expectations {
                let response = try Self.send(expectation.route, port: stack.port, key: expectation.key)
                let context = Comment(rawValue: "\(expectation.route.0) \(expectation.route.1): \(response.status) \(response.bodyText.prefix(300))")
                #expect(response.status == expectation.status, context)
                if expectation.status == 403 {
                    #expect(response.errorCode == "forbidden", context)
                    #expect(response.header("www-authenticate")?.contains("insufficient_scope") == true, context)
                }
            }
            // The browser's way to the admin pages: Basic with the key as the password, offered on the 401.
            let basic = "Basic " + Data("ops:\(TestKeys.adminOnly)".utf8).base64EncodedString()
            #expect(try RawHTTP.request("GET", "/status", port: stack.port, headers: [("Authorization", basic)], key: nil).status == 200)
            let challenge = try RawHTTP.request("GET", "/status", port: stack.port, key: nil)
            #expect(challenge.bodyText.contains("unauthorized"))

            // Who created the order: its row, orderd's request line and nginx's access log name the key id.
            #expect(try OrdersIntegrationTests.sqlite(stack.databasePath, "SELECT created_by FROM orders") == "test-write")
            let accessLog = try String(contentsOfFile: stack.dir + "/nginx/access.log", encoding: .utf8)
            #expect(accessLog.contains("\"POST /orders HTTP/1.1\" 201") && accessLog.contains("key=test-write"))
            #expect(stack.orderdLog.contains("key=test-write"))
            for secret in TestKeys.keys.map(\.secret) {
                #expect(!stack.orderdLog.contains(secret) && !accessLog.contains(secret))
            }
        }
    }

    @Test func aKeyRemovedFromTheFileIsRefusedAfterSIGHUPWithoutARestart() throws {
        try withRunningStack { stack in
            let pid = try #require(stack.orderd?.processIdentifier)
            #expect(try RawHTTP.json("POST", "/orders", port: stack.port, body: Self.order, key: TestKeys.writeOnly).status == 201)
            try stack.writeKeys(TestKeys.fileText.split(separator: "\n").filter { !$0.hasPrefix("test-write ") }
                .joined(separator: "\n") + "\n")
            kill(pid, SIGHUP)
            #expect(pollUntil(.seconds(30)) {
                (try? RawHTTP.json("POST", "/orders", port: stack.port, body: Self.order, key: TestKeys.writeOnly).status) == 401
            })
            #expect(try RawHTTP.json("POST", "/orders", port: stack.port, body: Self.order, key: TestKeys.all).status == 201)
            #expect(stack.orderd?.processIdentifier == pid && stack.orderd?.isRunning == true)
            #expect(stack.orderdLog.contains("API keys reloaded"))

            // A keys file that no longer parses keeps the keys in force.
            try stack.writeKeys("this is not a key line\n")
            kill(pid, SIGHUP)
            #expect(pollUntil(.seconds(30)) { stack.orderdLog.contains("API keys not reloaded") })
            #expect(try RawHTTP.json("POST", "/orders", port: stack.port, body: Self.order, key: TestKeys.all).status == 201)
        }
    }

    @Test func aKeysFileOthersCanReadStopsTheStart() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        try stack.writeKeys(TestKeys.fileText, mode: 0o644)
        let check = try Stack.run(Stack.binary, ["check-config", "--config", stack.configPath])
        #expect(check.status != 0)
        #expect(check.output.contains("mode 644") && check.output.contains("chmod 600 \(stack.keysPath)"), "\(check.output)")
        #expect(throws: (any Error).self) { try stack.startOrderd() }
        #expect(stack.orderdLog.contains("mode 644"), "\(stack.orderdLog)")
        let status = stack.stopOrderd(timeout: .seconds(10))
        #expect(status == nil || status == 78)
    }

    /// A wrong key and a right one through the whole path, interleaved: the medians are printed for the report,
    /// not asserted (a shared machine's noise is larger than any difference to look for).
    @Test func wrongAndRightKeysTakeTheSamePath() throws {
        try withRunningStack { stack in
            var right: [Duration] = []
            var wrong: [Duration] = []
            let wrongKey = String(TestKeys.readOnly.dropLast()) + "0"
            for _ in 0..<1000 {
                for (key, expected) in [(TestKeys.readOnly, 404), (wrongKey, 401)] {
                    let start = ContinuousClock.now
                    let status = try RawHTTP.request("GET", "/orders/\(Self.someID)", port: stack.port, key: key).status
                    let elapsed = ContinuousClock.now - start
                    #expect(status == expected)
                    if key == wrongKey { wrong.append(elapsed) } else { right.append(elapsed) }
                }
            }
            func median(_ values: [Duration]) -> Duration { values.sorted()[values.count / 2] }
            print("auth timing: 1000 each through nginx, median right key \(median(right)), wrong key \(median(wrong))")
        }
    }
}

/// The rate limits: nginx's per address on POST /orders, orderd's per API key.
@Suite(.timeLimit(.minutes(10)))
struct RateLimitTests {
    @Test func nginxAnswersJSON429WithRetryAfterOverTheAddressLimit() throws {
        // The shipped limit_req with its rate turned down to one a minute and a burst of one: the third POST
        // within the minute is over it.
        let stack = try Stack(ordersLimit: "1r/m:1")
        defer { stack.shutdown() }
        try stack.start()
        let order = AuthIntegrationTests.order
        #expect(try RawHTTP.json("POST", "/orders", port: stack.port, body: order).status == 201)
        #expect(try RawHTTP.json("POST", "/orders", port: stack.port, body: order).status == 201)
        let refused = try RawHTTP.json("POST", "/orders", port: stack.port, body: order)
        #expect(refused.status == 429, "\(refused.bodyText)")
        #expect(refused.errorCode == "rate_limited")
        #expect(refused.header("retry-after") == "1")
        #expect(refused.header("content-type") == "application/json")
        let requestID = try #require(refused.header("x-request-id"))
        #expect((refused.json?["error"] as? [String: Any])?["request_id"] as? String == requestID)
        // Reads are not limited.
        #expect(try RawHTTP.request("GET", "/orders/\(AuthIntegrationTests.someID)", port: stack.port).status == 404)
        #expect(try OrdersIntegrationTests.sqlite(stack.databasePath, "SELECT count(*) FROM orders") == "2")
    }

    @Test func orderdAnswers429PerKeyOverOrdersPerMinute() throws {
        try withRunningStack(settings: ["auth": ["orders_per_minute": "3"]]) { stack in
            let order = AuthIntegrationTests.order
            for _ in 0..<3 {
                #expect(try RawHTTP.json("POST", "/orders", port: stack.port, body: order, key: TestKeys.writeOnly).status == 201)
            }
            let refused = try RawHTTP.json("POST", "/orders", port: stack.port, body: order, key: TestKeys.writeOnly)
            #expect(refused.status == 429)
            #expect(refused.errorCode == "rate_limited")
            #expect(refused.bodyText.contains("test-write"))
            #expect(Int(refused.header("retry-after") ?? "") ?? 0 >= 1)
            #expect(refused.header("x-request-id")?.isEmpty == false)
            // Another key has its own bucket; reads do not count.
            #expect(try RawHTTP.json("POST", "/orders", port: stack.port, body: order, key: TestKeys.all).status == 201)
            #expect(try RawHTTP.request("GET", "/orders/\(AuthIntegrationTests.someID)", port: stack.port, key: TestKeys.all).status == 404)
            #expect(try OrdersIntegrationTests.sqlite(stack.databasePath, "SELECT count(*) FROM orders") == "4")
        }
    }

    @Test func nginxNames405sAllowedMethods() throws {
        try withRunningStack { stack in
            for (path, allowed) in [("/orders", "POST"), ("/orders/\(AuthIntegrationTests.someID)", "GET, HEAD"), ("/healthz", "GET, HEAD")] {
                let response = try RawHTTP.request("TRACE", path, port: stack.port)
                #expect(response.status == 405)
                #expect(response.header("allow") == allowed, "\(path): \(response.headers)")
                #expect(response.errorCode == "method_not_allowed")
            }
        }
    }
}
