import Testing
import OrderdConfig

/// Warnings `check-config` prints and `serve` logs once: valid, but open.
@Suite struct ConfigWarningTests {
    @Test func aTCPListenBeyondLoopbackWithoutAllowFromIsWarnedAbout() throws {
        let open = try ConfigLoader.parse(text: "[server]\nlisten = 0.0.0.0:9000\n", file: "/x.ini")
        #expect(open.warnings.count == 1)
        #expect(open.warnings.first?.contains("server.allow_from is empty") == true)
        let guarded = try ConfigLoader.parse(text: "[server]\nlisten = 0.0.0.0:9000\nallow_from = 10.0.0.5\n", file: "/x.ini")
        #expect(guarded.warnings.isEmpty)
        for listen in ["127.0.0.1:9000", "[::1]:9000", "/run/orderd/orderd.sock"] {
            #expect(try ConfigLoader.parse(text: "[server]\nlisten = \(listen)\n", file: "/x.ini").warnings.isEmpty, "\(listen)")
        }
    }

    @Test func anUnverifiedRemotePostgreSQLIsWarnedAbout() throws {
        func warnings(_ url: String) throws -> [String] {
            try ConfigLoader.parse(text: "[store]\ndriver = postgres\nurl = \(url)\n", file: "/x.ini").warnings
        }
        let remote = try warnings("postgres://orderd@db.example/orderd")
        #expect(remote.count == 1 && remote[0].contains("sslrootcert="), "\(remote)")
        #expect(try warnings("postgres://orderd@db.example/orderd?sslrootcert=/etc/orderd/ca.pem").isEmpty)
        #expect(try warnings("postgres://orderd@db.example/orderd?sslmode=verify-full").isEmpty)
        // Explicitly chosen: no second-guessing.
        #expect(try warnings("postgres://orderd@db.example/orderd?sslmode=require").isEmpty)
        #expect(try warnings("postgres://orderd@127.0.0.1/orderd").isEmpty)
        #expect(try warnings("postgres://orderd@/orderd?host=/run/postgresql").isEmpty)
    }
}
