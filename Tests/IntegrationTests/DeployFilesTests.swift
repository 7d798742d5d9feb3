import Foundation
import Testing

/// The files ops deploy beside orderd: the Prometheus rules pass promtool's check and their own unit tests, and
/// every metric the rules and the Grafana dashboard name is one a running orderd exports.
@Suite(.timeLimit(.minutes(10)))
struct DeployFilesTests {
    static let rules = Stack.repo + "/deploy/prometheus/orderd-rules.yml"
    static let ruleTests = Stack.repo + "/deploy/prometheus/orderd-rules.test.yml"
    static let dashboard = Stack.repo + "/deploy/grafana/orderd.json"

    static var promtool: String? {
        ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func theRulesPassPromtoolAndTheirTests() throws {
        guard let promtool = Self.promtool else {
            print("skipped: promtool is not installed (scripts/deps.sh installs the prometheus package)")
            return
        }
        let check = try Stack.run(promtool, ["check", "rules", Self.rules])
        #expect(check.status == 0, "\(check.output)")
        let tests = try Stack.run("/bin/sh", ["-c", "cd \"$(dirname '\(Self.ruleTests)')\" && '\(promtool)' test rules \"$(basename '\(Self.ruleTests)')\""])
        #expect(tests.status == 0 && tests.output.contains("SUCCESS"), "\(tests.output)")
    }

    /// `orderd_…` names in a text, with a histogram's `_bucket`/`_sum`/`_count` taken off.
    static func metricNames(in text: String) -> Set<String> {
        let regex = try! NSRegularExpression(pattern: "orderd_[a-z_]+")
        let range = NSRange(text.startIndex..., in: text)
        return Set(regex.matches(in: text, range: range).map { match -> String in
            var name = String(text[Range(match.range, in: text)!])
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
            return name
        })
    }

    @Test func everyMetricTheRulesAndTheDashboardNameIsExported() throws {
        let dashboardText = try String(contentsOfFile: Self.dashboard, encoding: .utf8)
        let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(dashboardText.utf8)) as? [String: Any])
        #expect((dashboard["panels"] as? [Any])?.isEmpty == false)
        let named = Self.metricNames(in: try String(contentsOfFile: Self.rules, encoding: .utf8))
            .union(Self.metricNames(in: dashboardText))
        try withRunningStack { stack in
            _ = try FollowUpIntegrationTests.createOrder(stack, "deploy files")
            let scrape = try RawHTTP.request("GET", "/metrics", port: stack.port).bodyText
            let exported = Set(scrape.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }
                .map { String($0.split(separator: " ")[2]) })
            #expect(exported.contains("orderd_build_info"))
            #expect(named.subtracting(exported).isEmpty, "named but not exported: \(named.subtracting(exported).sorted())")
        }
    }
}
