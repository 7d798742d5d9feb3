import Foundation
import OrderdServer
import Testing
import TestSupport

/// The shipped systemd units pass `systemd-analyze verify` without a word and score at most 2.0 in
/// `systemd-analyze security --offline=true`. Both checks live in `scripts/check-units.sh` (also
/// `make check-units`); this suite runs it once and reads its output.
@Suite struct SystemdUnitTests {
    static let maxScore = 2.0

    @Test(.enabled(if: UnitCheck.analyzeAvailable, "systemd-analyze is not installed (apt-get install systemd)"))
    func verifyIsClean() throws {
        let run = try UnitCheck.shared.get()
        let verify = run.summary["verify"]
        #expect(verify == "clean", "systemd-analyze verify printed something or failed:\n\(run.output)")
    }

    @Test(.enabled(if: UnitCheck.analyzeAvailable, "systemd-analyze is not installed (apt-get install systemd)"))
    func securityScoreIsAtMostTwo() throws {
        let run = try UnitCheck.shared.get()
        let score = try #require(UnitCheck.parseScore(run.output),
                                 "no 'Overall exposure level' line in:\n\(run.output)")
        #expect(score <= Self.maxScore, "orderd.service exposure \(score) > \(Self.maxScore):\n\(run.output)")
        #expect(run.summary["score"].flatMap(Double.init) == score)
    }

    @Test(.enabled(if: UnitCheck.analyzeAvailable, "systemd-analyze is not installed (apt-get install systemd)"))
    func scriptPasses() throws {
        let run = try UnitCheck.shared.get()
        #expect(run.status == 0, "scripts/check-units.sh exited \(run.status):\n\(run.output)")
        #expect(run.summary["result"] == "PASS")
    }

    /// `TimeoutStopSec=` must not SIGKILL a stop that keeps to its budget, whatever a reload set the live
    /// timeouts to: the worst case comes from the configuration schema's maxima, so widening a range there
    /// without raising the unit fails here.
    @Test func timeoutStopCoversTheWorstStopBudget() throws {
        let unit = try String(contentsOf: UnitCheck.repo.appendingPathComponent("systemd/orderd.service"), encoding: .utf8)
        let lines = unit.split(separator: "\n").filter { $0.hasPrefix("TimeoutStopSec=") }
        #expect(lines.count == 1, "one TimeoutStopSec= line in orderd.service, found \(lines.count)")
        let value = String(try #require(lines.last).dropFirst("TimeoutStopSec=".count))
        let timeout = try #require(UnitCheck.parseTimeSpan(value), "TimeoutStopSec=\(value) is not a time span")
        let worst = OrderdService.worstCaseStopBudget
        #expect(timeout >= worst, "TimeoutStopSec=\(value) is less than the worst stop budget \(worst)")
        // The budget is built from the schema's maxima (10m each for the two live timeouts, capped at a stop).
        #expect(worst >= .seconds(120))
    }

    @Test(arguments: [
        ("40s", Duration.seconds(40)), ("1270s", .seconds(1270)), ("21min 10s", .seconds(1270)), ("21min10s", .seconds(1270)),
        ("1h", .seconds(3600)), ("90", .seconds(90)), ("500ms", .milliseconds(500)), ("2m", .seconds(120)),
    ] as [(String, Duration)])
    func timeSpanParserReadsSystemdSpans(_ text: String, _ expected: Duration) {
        #expect(UnitCheck.parseTimeSpan(text) == expected)
    }

    @Test(arguments: ["", "infinity", "10 parsecs", "s"])
    func timeSpanParserRejectsOtherText(_ text: String) {
        #expect(UnitCheck.parseTimeSpan(text) == nil)
    }

    @Test func scoreParserReadsSystemdOutput() {
        let sample = "✗ PrivateNetwork=   Service has access to the host's network   0.5\n"
            + "→ Overall exposure level for orderd.service: 1.1 OK 🙂\n"
        #expect(UnitCheck.parseScore(sample) == 1.1)
        #expect(UnitCheck.parseScore("nothing here") == nil)
    }
}

/// One run of `scripts/check-units.sh`, shared by the tests above.
fileprivate struct UnitCheck: Sendable {
    let status: Int32
    let output: String
    /// `key=value` pairs of the script's last line, `check-units: verify=… score=… max=… result=…`.
    let summary: [String: String]

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let shared: Result<UnitCheck, Failure> = run()

    static var analyzeAvailable: Bool { executable(named: "systemd-analyze") != nil }

    /// The repository root: `$ORDERD_REPO`, else three levels up from this file.
    static var repo: URL {
        if let env = ProcessInfo.processInfo.environment["ORDERD_REPO"], !env.isEmpty {
            return URL(fileURLWithPath: env, isDirectory: true)
        }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // IntegrationTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // repo
    }

    static func executable(named name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin", "/bin"] {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// A systemd time span (systemd.time(7)): `40s`, `21min 10s`, `1h`, a bare number of seconds. Nil for
    /// anything else, `infinity` included (no bound at all is not what the unit should say).
    static func parseTimeSpan(_ text: String) -> Duration? {
        let units: [(String, Duration)] = [
            ("usec", .microseconds(1)), ("us", .microseconds(1)), ("msec", .milliseconds(1)), ("ms", .milliseconds(1)),
            ("seconds", .seconds(1)), ("second", .seconds(1)), ("sec", .seconds(1)), ("s", .seconds(1)),
            ("minutes", .seconds(60)), ("minute", .seconds(60)), ("min", .seconds(60)), ("m", .seconds(60)),
            ("hours", .seconds(3600)), ("hour", .seconds(3600)), ("hr", .seconds(3600)), ("h", .seconds(3600)),
            ("days", .seconds(86_400)), ("day", .seconds(86_400)), ("d", .seconds(86_400)),
        ]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        if rest.allSatisfy(\.isNumber) { return Int64(rest).map { .seconds($0) } }
        var total = Duration.zero
        while !rest.isEmpty {
            let digits = rest.prefix(while: \.isNumber)
            guard let count = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count).drop(while: { $0 == " " })
            let word = rest.prefix(while: \.isLetter)
            guard let unit = units.first(where: { $0.0 == word })?.1 else { return nil }
            total += unit * count
            rest = rest.dropFirst(word.count).drop(while: { $0 == " " })
        }
        return total
    }

    /// The score from systemd's `→ Overall exposure level for orderd.service: 1.1 OK 🙂` line.
    static func parseScore(_ output: String) -> Double? {
        for line in output.split(separator: "\n").reversed() {
            guard let range = line.range(of: "Overall exposure level for ") else { continue }
            let rest = line[range.upperBound...]
            guard let colon = rest.firstIndex(of: ":") else { continue }
            let number = rest[rest.index(after: colon)...].drop(while: { $0 == " " }).prefix(while: { $0.isNumber || $0 == "." })
            if let value = Double(number) { return value }
        }
        return nil
    }

    private static func run() -> Result<UnitCheck, Failure> {
        let script = repo.appendingPathComponent("scripts/check-units.sh").path
        guard FileManager.default.fileExists(atPath: script) else {
            return .failure(Failure(description: "\(script) not found (set ORDERD_REPO)"))
        }
        let (status, output): (Int32, String)
        do {
            // Bounded: the script's own calls are bounded too, this is the backstop.
            (status, output) = try runCommand("/usr/bin/timeout", ["120", "/bin/bash", script], in: repo)
        } catch {
            return .failure(Failure(description: "cannot run \(script): \(error)"))
        }
        print(output)
        var summary: [String: String] = [:]
        if let last = output.split(separator: "\n").last(where: { $0.hasPrefix("check-units: verify=") }) {
            for field in last.dropFirst("check-units: ".count).split(separator: " ") {
                let parts = field.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { summary[String(parts[0])] = String(parts[1]) }
            }
        }
        return .success(UnitCheck(status: status, output: output, summary: summary))
    }
}
