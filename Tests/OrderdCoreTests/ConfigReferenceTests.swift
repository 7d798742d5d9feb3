import Foundation
import Testing
@testable import OrderdCore

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
        #expect(ConfigReference.restartOnly.isSubset(of: names))
    }
}
