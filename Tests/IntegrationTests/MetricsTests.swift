import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `GET /metrics` through the real nginx and orderd: the counters equal exactly what the test sent, scraped
/// while the load runs and after it.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct MetricsTests {
    static let senders = 4
    static let ordersPerSender = 10
    /// 3 × 400 (not JSON) and 4 × 422 (not an order), spread over the senders.
    static let badBodies = ["{", "{", "{", "{}", "{}", "{}", "{}"]
    static let unknownID = "01a21a2e-7c73-72b3-b04e-a3379c39b7b4"

    /// `orderd_tasks_done_total` over every kind.
    static func done(_ scrape: MetricsScrape) -> Double {
        scrape.values.filter { $0.key.hasPrefix("orderd_tasks_done_total{") }.values.reduce(0, +)
    }

    static func scrape(_ stack: Stack) throws -> (response: RawHTTPResponse, series: MetricsScrape) {
        let response = try RawHTTP.request("GET", "/metrics", port: stack.port)
        return (response, MetricsScrape(response.bodyText))
    }

    /// Runs `body(index)` on `count` threads of their own, all at once, and waits for them.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            let thread = Thread {
                body(index)
                group.leave()
            }
            thread.start()
        }
        group.wait()
    }

    @Test func countersEqualWhatWasSentWhileScrapedUnderLoad() throws {
        try withRunningStack { stack in
            // What the clients got back, by "METHOD route status": the metrics must say the same.
            let answered = Locked<[String: Int]>([:])
            let failures = Locked<[String]>([])
            let loadDone = Locked(false)
            let scrapes = Locked<[MetricsScrape]>([])

            let scraperDone = DispatchSemaphore(value: 0)
            let scraper = Thread {
                defer { scraperDone.signal() }
                while !loadDone.value {
                    do {
                        let (response, series) = try Self.scrape(stack)
                        if response.status != 200 || !series.problems.isEmpty {
                            failures.mutate { $0.append("scrape: \(response.status) \(series.problems.prefix(3))") }
                        }
                        scrapes.mutate { $0.append(series) }
                    } catch {
                        failures.mutate { $0.append("scrape: \(error)") }
                    }
                    usleep(5_000)
                }
            }
            scraper.start()

            Self.onThreads(Self.senders) { sender in
                func note(_ route: String, _ method: String, _ response: RawHTTPResponse) {
                    answered.mutate { $0["\(method) \(route) \(response.status)", default: 0] += 1 }
                }
                do {
                    for number in 0..<Self.ordersPerSender {
                        let body = FollowUpIntegrationTests.orderJSON("metrics-\(sender)-\(number)")
                        let created = try RawHTTP.json("POST", "/orders", port: stack.port, body: body)
                        note("/orders", "POST", created)
                        guard created.status == 201, let id = created.json?["id"] as? String else {
                            failures.mutate { $0.append("POST /orders: \(created.status) \(created.bodyText.prefix(200))") }
                            continue
                        }
                        note("/orders/{id}", "GET", try RawHTTP.request("GET", "/orders/\(id)", port: stack.port))
                    }
                    for (index, body) in Self.badBodies.enumerated() where index % Self.senders == sender {
                        note("/orders", "POST", try RawHTTP.json("POST", "/orders", port: stack.port, body: body))
                    }
                    if sender < 3 {
                        note("/orders/{id}", "GET", try RawHTTP.request("GET", "/orders/\(Self.unknownID)", port: stack.port))
                    }
                } catch {
                    failures.mutate { $0.append("sender \(sender): \(error)") }
                }
            }
            loadDone.mutate { $0 = true }
            scraperDone.wait()
            #expect(failures.value.isEmpty, "\(failures.value.prefix(5))")

            let sent = answered.value
            let orders = Self.senders * Self.ordersPerSender
            #expect(sent == [
                "POST /orders 201": orders, "POST /orders 400": 3, "POST /orders 422": 4,
                "GET /orders/{id} 200": orders, "GET /orders/{id} 404": 3,
            ])

            // While the load ran: every scrape parsed, and no counter ever went down.
            let during = scrapes.value
            #expect(during.count >= 2, "only \(during.count) scrapes during the load")
            for (before, after) in zip(during, during.dropFirst()) {
                for (series, value) in before.values where series.hasSuffix("_total") || series.contains("_total{") {
                    #expect((after.values[series] ?? 0) >= value, "\(series) went down")
                }
            }

            // Once every task ran: sms and audit done for each order, the outbox empty.
            var last = try Self.scrape(stack).series
            let settled = try FollowUpIntegrationTests.eventually {
                last = try Self.scrape(stack).series
                return Self.done(last) == Double(2 * orders) && last["orderd_outbox_pending_tasks"] == 0
                    && last["orderd_tasks_best_effort_done_total"] == Double(orders)
            }
            #expect(settled, "tasks done \(Self.done(last)), outbox pending \(last["orderd_outbox_pending_tasks"] ?? -1)")
            let metricsScrapes = Double(during.count) + 1  // and the one before `eventually`
            let polls = try Self.scrape(stack)
            let final = polls.series
            #expect(polls.response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(final.problems.isEmpty, "\(final.problems.prefix(5))")

            // Requests: exactly what the clients were answered, by method, route and status.
            for (key, count) in sent {
                let parts = key.split(separator: " ")
                let series = #"orderd_http_requests_total{method="\#(parts[0])",route="\#(parts[1])",status="\#(parts[2])"}"#
                #expect(final[series] == Double(count), "\(series)")
            }
            let requestSeries = final.values.filter { $0.key.hasPrefix("orderd_http_requests_total{") }
            let ordersRoutes = requestSeries.filter { $0.key.contains(#"route="/orders""#) || $0.key.contains(#"route="/orders/{id}""#) }
            #expect(ordersRoutes.count == sent.count, "unexpected series: \(ordersRoutes.keys.sorted())")
            #expect((final[#"orderd_http_requests_total{method="GET",route="/metrics",status="200"}"#] ?? 0) >= metricsScrapes)
            // The latency histogram saw every request once.
            #expect(final[#"orderd_http_request_duration_seconds_count{route="/orders"}"#] == Double(orders + Self.badBodies.count))
            #expect(final[#"orderd_http_request_duration_seconds_count{route="/orders/{id}"}"#] == Double(orders + 3))
            #expect(final[#"orderd_http_request_duration_seconds_bucket{route="/orders",le="+Inf"}"#] == Double(orders + Self.badBodies.count))

            // Tasks: every attempt timed, by kind; the executor's and the follow-ups' counters agree.
            #expect(final[#"orderd_task_duration_seconds_count{kind="sms",outcome="completed"}"#] == Double(orders))
            #expect(final[#"orderd_task_duration_seconds_count{kind="audit",outcome="completed"}"#] == Double(orders))
            #expect(final[#"orderd_task_duration_seconds_count{kind="stats",outcome="completed"}"#] == Double(orders))
            // Audit tasks wait in the audit file's own queue, not on the executor: two of the three kinds ran there.
            #expect(final["orderd_executor_tasks_submitted_total"] == Double(2 * orders))
            #expect(final[#"orderd_executor_tasks_finished_total{outcome="completed"}"#] == Double(2 * orders))
            #expect(final["orderd_executor_queued_tasks"] == 0)
            // Every audit line was written: none waits in the audit file's queue.
            #expect(final["orderd_audit_queued_lines"] == 0)
            #expect(final[#"orderd_tasks_done_total{kind="sms"}"#] == Double(orders))
            #expect(final[#"orderd_tasks_done_total{kind="audit"}"#] == Double(orders))
            #expect(final.values.filter { $0.key.hasPrefix("orderd_tasks_retried_total{") }.values.allSatisfy { $0 == 0 })
            #expect(final.values.filter { $0.key.hasPrefix("orderd_tasks_dead_total{") }.values.allSatisfy { $0 == 0 })
            #expect(final[#"orderd_tasks_dead_total{kind="sms",reason="unreadable"}"#] == 0)  // made up front
            #expect(final[#"orderd_tasks_dropped_total{kind="stats"}"#] == 0)
            #expect(final["orderd_outbox_oldest_pending_age_seconds"] == 0)

            // The store: every order in some group commit.
            #expect(final["orderd_store_commit_batch_orders_sum"] == Double(orders))
            let batches = final["orderd_store_commit_batch_orders_count"] ?? 0
            #expect(batches >= 1 && batches <= Double(orders))
            #expect((final[#"orderd_store_commit_duration_seconds_count{result="committed"}"#] ?? 0) >= batches)
            #expect(final[#"orderd_store_commit_duration_seconds_count{result="failed"}"#] == 0)

            // Request threads (4 in the harness): this scrape is the one request in flight.
            let busy = final[#"orderd_request_threads{state="busy"}"#] ?? -1
            let idle = final[#"orderd_request_threads{state="idle"}"#] ?? -1
            #expect(busy >= 1 && busy + idle == 4, "busy \(busy), idle \(idle)")
            #expect(final["orderd_http_requests_in_flight"] == 1)
        }
    }

    @Test func metricsAreForLoopbackOnly() throws {
        try withRunningStack { stack in
            let raw = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
            let refused = try RawHTTP.send(raw, port: stack.port, from: "127.0.0.2")
            #expect(refused.status == 403)
            #expect(!refused.bodyText.contains("orderd_"))
            let allowed = try RawHTTP.send(raw, port: stack.port, from: "127.0.0.1")
            #expect(allowed.status == 200)
            #expect(allowed.bodyText.contains("# TYPE orderd_http_requests_total counter"))
        }
    }
}
