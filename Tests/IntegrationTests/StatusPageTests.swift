import Foundation
import Testing

// @testable: these tests read internals: OrderdExecutor (StatusFormat); OrderdStore (StatusFormat); OrderdFollowUps
//  (StatusFormat); OrderdOperations (StatusFormat, wantsHTML).
@testable import OrderdExecutor
@testable import OrderdStore
@testable import OrderdFollowUps
@testable import OrderdOperations

#if canImport(Glibc)
import Glibc
#endif

/// `GET /status?html` through the real nginx and orderd: the same numbers as the JSON, and a page that a real
/// browser (headless Chromium) loads without errors.
// A hang guard, not a speed check: in the parallel integration pass this suite waits its turn for threads too.
@Suite(.timeLimit(.minutes(10)))
struct StatusPageTests {
    static let orders = 3

    /// A stack with `orders` orders created and settled, and at least two samples in the history (the first is
    /// taken at start, the next 5 s later).
    static func withHistory<T>(_ body: (Stack, _ json: [String: Any]) throws -> T) throws -> T {
        try withRunningStack { stack in
            for n in 1...orders {
                let created = try RawHTTP.json("POST", "/orders", port: stack.port, body: FollowUpIntegrationTests.orderJSON("status-\(n)"))
                try #require(created.status == 201, "\(created.bodyText)")
            }
            var json: [String: Any] = [:]
            let settled = try FollowUpIntegrationTests.eventually(.seconds(12)) {
                json = try FollowUpIntegrationTests.status(stack)
                let executor = json["executor"] as? [String: Any] ?? [:]
                let outbox = json["outbox"] as? [String: Any] ?? [:]
                let history = json["history"] as? [[String: Any]] ?? []
                return history.count >= 2 && executor["running"] as? Int == 0 && executor["queued"] as? Int == 0
                    && outbox["pending"] as? Int == 0
            }
            try #require(settled, "no second sample or follow-up work still running: \(json)")
            return try body(stack, json)
        }
    }

    /// `<td data-key="…">` of `key` and what follows it up to the next tag.
    static func figure(_ key: String, in html: String) -> String? {
        guard let start = html.range(of: "data-key=\"\(key)\"") else { return nil }
        guard let open = html[start.upperBound...].firstIndex(of: ">") else { return nil }
        let rest = html[html.index(after: open)...]
        return String(rest[..<(rest.firstIndex(of: "<") ?? rest.endIndex)])
    }

    @Test func htmlShowsTheNumbersOfTheJSON() throws {
        try Self.withHistory { stack, _ in
            let json = try FollowUpIntegrationTests.status(stack)
            let response = try RawHTTP.request("GET", "/status?html", port: stack.port)
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "text/html; charset=utf-8")
            #expect(response.header("Cache-Control") == "no-store")
            #expect(response.header("Content-Security-Policy")?.hasPrefix("default-src 'none'") == true)
            let html = response.bodyText
            #expect(html.hasPrefix("<!DOCTYPE html>"))
            #expect(html.contains(#"<meta http-equiv="refresh" content="5">"#))
            #expect(html.contains("<title>orderd status</title>"))
            for id in ["process", "configuration", "requests", "executor", "tasks", "outbox", "chart-orders", "chart-queue", "chart-age"] {
                #expect(html.contains("id=\"\(id)\""), "section \(id)")
            }
            #expect(!html.contains("<script"), "works without script")
            #expect(!html.contains("http://") && !html.contains("https://"), "nothing fetched from elsewhere")

            #expect(Self.figure("version", in: html) == json["version"] as? String)
            #expect(Self.figure("started_at", in: html) == json["started_at"] as? String)
            let config = try #require(json["config"] as? [String: Any])
            for key in ["path", "digest", "loaded_at", "log_level", "log_format"] {
                #expect(Self.figure("config.\(key)", in: html) == (config[key] as? String).map(StatusFormat.html), "config.\(key)")
            }
            #expect(Self.figure("config.path", in: html) == stack.configPath)
            // Nothing changes these between the two requests: the follow-up work has settled.
            for group in ["executor", "tasks", "requests"] {
                let figures = try #require(json[group] as? [String: Any], "\(group) in \(json)")
                for (key, value) in figures {
                    if let dropped = value as? [String: Int] {
                        for (kind, count) in dropped {
                            #expect(Self.figure("\(group).\(key).\(kind)", in: html) == "\(count)", "\(group).\(key).\(kind)")
                        }
                        continue
                    }
                    let number = try #require(value as? Int, "\(group).\(key)")
                    // The JSON request itself finished in between.
                    let expected = group == "requests" && key == "finished" ? number + 1 : number
                    #expect(Self.figure("\(group).\(key)", in: html) == "\(expected)", "\(group).\(key)")
                }
            }
            let requests = try #require(json["requests"] as? [String: Any])
            #expect(requests["orders_created"] as? Int == Self.orders)
            let outbox = try #require(json["outbox"] as? [String: Any])
            #expect(Self.figure("outbox.pending", in: html) == "\(outbox["pending"] as? Int ?? -1)")
            #expect(Self.figure("outbox.dead", in: html) == "\(outbox["dead"] as? Int ?? -1)")
            // The tasks table by state: every order's sms and audit tasks are done and kept (retention 7d).
            #expect(Self.figure("outbox.done", in: html) == "\(outbox["done"] as? Int ?? -1)")
            #expect((outbox["done"] as? Int ?? 0) + (outbox["dead"] as? Int ?? 0) == 2 * Self.orders, "\(outbox)")
            #expect(outbox["oldest_pending_age_seconds"] is NSNull)
            #expect(Self.figure("outbox.oldest_pending_age_seconds", in: html) == "none pending")
            let tasks = try #require(json["tasks"] as? [String: Any])
            #expect((tasks["done"] as? Int ?? 0) >= Self.orders, "sms and audit for each order: \(tasks)")

            // The history: at most 60 samples, the orders counted, a rate once there is a previous sample; and
            // charts drawn from it.
            let history = try #require(json["history"] as? [[String: Any]])
            #expect((2...60).contains(history.count))
            #expect(history.last?["orders_created"] as? Int == Self.orders)
            #expect(history.last?["orders_per_second"] is NSNumber)
            #expect(history.first?["orders_per_second"] is NSNull)
            #expect(html.contains("<polyline"), "a line once there are two samples")
            #expect(html.contains("<b>\(Self.orders)</b> orders created"))
        }
    }

    @Test(arguments: [("html", true), ("html=1", true), ("", false), ("html=0", false), ("json", false), ("x=1&html", true)])
    func queryPicksTheFormat(query: String, html: Bool) throws {
        #expect(StatusPage.wantsHTML(query: query) == html)
    }

    @Test func jsonKeepsItsFieldsAndGainsHistory() throws {
        try withRunningStack { stack in
            for query in ["", "?html=0"] {
                let response = try RawHTTP.request("GET", "/status\(query)", port: stack.port)
                #expect(response.status == 200)
                #expect(response.header("Content-Type") == "application/json")
                let json = try #require(response.json)
                for key in ["version", "started_at", "uptime_seconds", "config", "executor", "tasks", "outbox", "requests"] {
                    #expect(json[key] != nil, "\(key)")
                }
                let history = try #require(json["history"] as? [[String: Any]])
                #expect(history.count >= 1, "the first sample is taken at start")
                #expect(Set(history.first?.keys.map { $0 } ?? []) == [
                    "at", "orders_created", "orders_per_second", "executor_queued", "outbox_pending", "oldest_pending_age_seconds",
                ])
            }
            let html = try RawHTTP.request("GET", "/status?html=1", port: stack.port)
            #expect(html.header("Content-Type") == "text/html; charset=utf-8")
            #expect(html.bodyText.contains("collecting samples") || html.bodyText.contains("<circle"), "one sample: a point at most")
        }
    }

    static var chromium: String? {
        for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        return nil
    }

    @Test(.enabled(if: chromium != nil, "chromium is not installed (scripts/deps.sh installs it): the page was not loaded in a browser"))
    func loadsInHeadlessChromiumWithoutErrors() throws {
        try Self.withHistory { stack, _ in
            let chromium = try #require(Self.chromium)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: chromium)
            process.arguments = [
                "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                "--user-data-dir=\(stack.dir)/chromium", "--no-first-run", "--disable-extensions",
                "--dump-dom", "http://admin:\(TestKeys.adminOnly)@127.0.0.1:\(stack.port)/status?html",
            ]
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            // Read both pipes while it runs (a full pipe would block it); give up after 20 s.
            let dom = Locked(Data())
            let log = Locked(Data())
            let readers = DispatchGroup()
            for (pipe, sink) in [(out, dom), (err, log)] {
                DispatchQueue.global().async(group: readers) {
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    sink.mutate { $0 = data }
                }
            }
            let deadline = ContinuousClock.now + .seconds(20)
            while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            readers.wait()
            let page = String(decoding: dom.value, as: UTF8.self)
            let stderr = String(decoding: log.value, as: UTF8.self)
            #expect(process.terminationStatus == 0, "chromium: \(stderr.suffix(2000))")
            #expect(page.contains("<title>orderd status</title>"), "\(page.prefix(500))")
            for id in ["process", "configuration", "requests", "executor", "tasks", "outbox", "chart-orders"] {
                #expect(page.contains("id=\"\(id)\""), "section \(id)")
            }
            #expect(page.contains("<polyline"))
            // Script errors, console messages (an SVG attribute it cannot parse is one) and CSP refusals.
            for bad in ["Uncaught", "CONSOLE", "Refused to", "Content Security Policy"] {
                #expect(!stderr.contains(bad), "\(bad) in chromium's log:\n\(stderr.suffix(3000))")
            }
        }
    }
}
