import Foundation
import Logging
import Testing
import TestSupport

import OrderdConfig
import OrderdFollowUps
// @testable: these tests read internals: OrderdServer (makeHandlers).
@testable import OrderdServer

/// A reload makes new HTTP clients only for the kinds whose HTTP settings changed (found by the soak: every
/// SIGHUP used to make a new client per HTTP kind, each kept with its pooled connections until the stop).
@Suite struct HTTPClientReuseTests {
    @Test func reloadReusesClientsWhoseSettingsDidNotChange() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("orderd-reuse-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let audit = try AuditLog(path: dir + "/audit.log")
        defer { audit.close() }
        let statistics = OrderStatistics()
        let logger = Logger(label: "test")
        var configuration = OrderdConfiguration()
        configuration.sms.driver = .http
        configuration.sms.gatewayURL = "http://127.0.0.1:9/sms"
        configuration.webhook.url = "http://127.0.0.1:9/hook"

        let (_, first) = OrderdService.makeHandlers(configuration, auditLog: audit, statistics: statistics, logger: logger)
        var made = first
        defer { for poster in made { poster.shutdown() } }
        #expect(first.map(\.url).sorted() == ["http://127.0.0.1:9/hook", "http://127.0.0.1:9/sms"])

        // Other live keys: no new client.
        var next = configuration
        next.executor.retryBackoff = .milliseconds(200)
        let (_, unchanged) = OrderdService.makeHandlers(next, auditLog: audit, statistics: statistics, logger: logger, reusing: first)
        made += unchanged
        #expect(unchanged.isEmpty)

        // A new gateway URL: a new client for sms only.
        next.sms.gatewayURL = "http://127.0.0.1:10/sms"
        let (_, moved) = OrderdService.makeHandlers(next, auditLog: audit, statistics: statistics, logger: logger, reusing: first)
        made += moved
        #expect(moved.map(\.url) == ["http://127.0.0.1:10/sms"])

        // More workers: bigger pools, so new clients for both.
        var wider = configuration
        wider.executor.workers = 12
        let (_, resized) = OrderdService.makeHandlers(wider, auditLog: audit, statistics: statistics, logger: logger, reusing: first)
        made += resized
        #expect(resized.count == 2 && resized.allSatisfy { $0.connections == 12 })
    }
}
