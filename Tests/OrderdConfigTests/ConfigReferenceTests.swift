import Foundation
import Testing
// @testable: these tests read internals: OrderdConfig (summaries).
@testable import OrderdConfig

/// docs/configuration.md is the schema's own rendering: regenerate it with
/// `orderd check-config --reference > docs/configuration.md` after changing a key.
@Suite struct ConfigReferenceTests {
    @Test func theCommittedReferenceIsTheSchemas() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let committed = try String(contentsOf: repo.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        #expect(committed == ConfigReference.markdown(), "run: orderd check-config --reference > docs/configuration.md")
    }

    @Test func everyKeyHasASummaryAndNoSummaryNamesAMissingKey() {
        let names = Set(ConfigSchema.keys.map(\.fullName))
        #expect(names.subtracting(ConfigReference.summaries.keys).isEmpty, "\(names.subtracting(ConfigReference.summaries.keys))")
        #expect(Set(ConfigReference.summaries.keys).subtracting(names).isEmpty)
    }

    /// What a running process cannot take over is marked restart-only in the schema; what it can is live.
    @Test func theSchemaSaysWhichKeysAReloadTakes() {
        let restart = Set(ConfigSchema.keys.filter { $0.reload == .restart }.map(\.fullName))
        for key in ["server.listen", "server.request_workers", "store.path", "store.driver", "auth.keys_file"] {
            #expect(restart.contains(key), "\(key)")
        }
        for key in ["server.request_timeout", "log.level", "executor.workers", "task.sms.gateway_url", "auth.orders_per_minute"] {
            #expect(!restart.contains(key), "\(key)")
        }
        let rows = ConfigReference.markdown().split(separator: "\n")
        #expect(rows.contains { $0.hasPrefix("| `request_workers` |") && $0.contains("| restart |") })
        #expect(rows.contains { $0.hasPrefix("| `request_timeout` |") && $0.contains("| live |") })
    }
}
