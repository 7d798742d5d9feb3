import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The Debian package: built by scripts/build-deb.sh from the static binary `make test` builds, clean under
/// lintian, and working where the Swift toolchain is not: unpacked into a throwaway root and run in a private
/// mount namespace with /opt/swift hidden (scripts/package-smoke.sh), its packaged nginx site in front.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct PackageTests {
    /// The statically linked orderd (`ORDERD_STATIC_BIN`, set by `make test`).
    static var staticBinary: String? {
        ProcessInfo.processInfo.environment["ORDERD_STATIC_BIN"].flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }
    }

    static var skipReason: String? {
        if staticBinary == nil { return "ORDERD_STATIC_BIN names no binary (make test sets it to the orderd it built, linked statically)" }
        if getuid() != 0 { return "not root: unshare -m and the bind mount over /opt/swift need root" }
        for tool in ["/usr/bin/dpkg-deb", "/usr/bin/lintian", "/usr/bin/unshare"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing (scripts/deps.sh test installs it)"
        }
        return nil
    }

    @Test func thePackageIsLintianCleanAndServesWithTheToolchainHidden() throws {
        if let reason = Self.skipReason {
            print("skipped: \(reason)")
            return
        }
        let staticBinary = Self.staticBinary!
        var template = Array("/tmp/orderd-package-XXXXXX".utf8CString)
        let work = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: work) }

        let ldd = try Stack.run("/usr/bin/ldd", [staticBinary])
        #expect(!ldd.output.contains("/opt/swift"), "\(ldd.output)")

        let built = try Stack.run("/bin/bash", [Stack.repo + "/scripts/build-deb.sh", "--binary", staticBinary, "--out", work, "--lintian"])
        #expect(built.status == 0, "\(built.output)")
        let deb = try #require(built.output.split(separator: "\n").last.map(String.init), "\(built.output)")
        #expect(deb.hasSuffix("_amd64.deb") && FileManager.default.fileExists(atPath: deb))
        #expect(built.output.contains("lintian: 0 errors"), "\(built.output)")
        let contents = try Stack.run("/usr/bin/dpkg-deb", ["--contents", deb]).output
        for path in ["./usr/bin/orderd", "./lib/systemd/system/orderd.service", "./lib/systemd/system/orderd.socket",
                     "./etc/orderd/orderd.ini", "./etc/nginx/sites-available/orderd.conf", "./etc/logrotate.d/orderd"] {
            #expect(contents.contains(path), "\(path) in the package")
        }
        let conffiles = try Stack.run("/usr/bin/dpkg-deb", ["--info", deb, "conffiles"]).output
        #expect(conffiles.contains("/etc/orderd/orderd.ini"))
        #expect(try Stack.run("/usr/bin/dpkg-deb", ["--field", deb, "Depends"]).output.contains("libfcgi"))

        let port = try Stack.freePort()
        // A Swift program of the same build that links the runtime dynamically, as SwiftPM does by default.
        let dynamicBinary = URL(fileURLWithPath: staticBinary).deletingLastPathComponent().appendingPathComponent("executor-bench").path
        let smoke = try Stack.run("/bin/bash", [Stack.repo + "/scripts/package-smoke.sh", deb, work, "\(port)", dynamicBinary])
        #expect(smoke.status == 0, "\(smoke.output)")
        print("package test:\n\(smoke.output)")
        #expect(smoke.output.contains("toolchain hidden: 0 entries in /opt/swift"), "\(smoke.output)")
        // A binary linked the default way needs the toolchain: that is what the package must not.
        #expect(smoke.output.contains("non-static binary refused") && smoke.output.contains("libswift")
                && smoke.output.contains("cannot open shared object file"), "\(smoke.output)")
        #expect(!smoke.output.contains("ldd: ") || !smoke.output.split(separator: "\n").first { $0.hasPrefix("ldd: ") }!.contains("/opt/swift"))
        #expect(smoke.output.contains("check-config: orderd: configuration file"), "\(smoke.output)")
        #expect(smoke.output.contains("test is successful"), "\(smoke.output)")
        #expect(smoke.output.contains("POST /orders: {\"id\":") && smoke.output.contains(" 201"), "\(smoke.output)")
        #expect(smoke.output.range(of: #"GET /orders/[0-9a-f-]{36}: 200"#, options: .regularExpression) != nil, "\(smoke.output)")
        #expect(smoke.output.contains("without a key: 401"), "\(smoke.output)")
    }
}
