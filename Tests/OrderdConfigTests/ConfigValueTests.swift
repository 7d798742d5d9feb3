import Testing
// @testable: these tests read internals: OrderdConfig (ConfigValueType, editDistance, formatListenAddress,
//  formatOctalMode, formatSize, …).
@testable import OrderdConfig

/// Value syntaxes on their own, without ranges (ranges are covered by the loader's table).
@Suite struct ConfigValueTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("0ms", .zero), ("0s", .zero), ("2s", .seconds(2)),
        ("1m", .seconds(60)), ("1h", .seconds(3600)), ("1d", .seconds(86_400)),
        ("90s", .seconds(90)), ("007s", .seconds(7)),
    ])
    func validDurations(_ text: String, _ expected: Duration) {
        #expect(ConfigValue.parseDuration(text) == expected)
    }

    @Test(arguments: [
        "", "0", "30", "s", "ms", "1.5s", "-1s", "+1s", "1 s", " 1s", "1S", "1M", "1sec", "1w", "1h30m",
        "１s", "99999999999999999999s", "9999999999999999d",
    ])
    func invalidDurations(_ text: String) {
        #expect(ConfigValue.parseDuration(text) == nil)
    }

    @Test(arguments: [
        (Duration.milliseconds(250), "250ms"), (.milliseconds(1500), "1500ms"), (.seconds(30), "30s"),
        (.seconds(90), "90s"), (.seconds(600), "10m"), (.seconds(3600), "1h"), (.seconds(86_400), "24h"),
        (.seconds(36 * 3600), "36h"), (.seconds(2 * 86_400), "2d"), (.seconds(30 * 86_400), "30d"), (.zero, "0s"),
    ])
    func formattedDurations(_ duration: Duration, _ expected: String) {
        #expect(ConfigValue.formatDuration(duration) == expected)
        #expect(ConfigValue.parseDuration(expected) == duration)
    }

    @Test(arguments: [
        ("512", 512), ("0", 0), ("64k", 65_536), ("64K", 65_536), ("1m", 1_048_576), ("16M", 16_777_216),
        ("1g", 1_073_741_824), ("1G", 1_073_741_824),
    ])
    func validSizes(_ text: String, _ expected: Int) {
        #expect(ConfigValue.parseSize(text) == expected)
    }

    @Test(arguments: ["", "k", "64kb", "64KiB", "1.5m", "-1k", "1t", "64 k", "99999999999999999g"])
    func invalidSizes(_ text: String) {
        #expect(ConfigValue.parseSize(text) == nil)
    }

    @Test(arguments: [(512, "512"), (1024, "1k"), (65_536, "64k"), (1536, "1536"), (16 << 20, "16m"), (3 << 30, "3g"), (0, "0")])
    func formattedSizes(_ bytes: Int, _ expected: String) {
        #expect(ConfigValue.formatSize(bytes) == expected)
        #expect(ConfigValue.parseSize(expected) == bytes)
    }

    @Test(arguments: [
        ("true", true), ("yes", true), ("on", true), ("1", true), ("On", true), ("TRUE", true),
        ("false", false), ("no", false), ("off", false), ("0", false), ("Off", false),
    ])
    func validBooleans(_ text: String, _ expected: Bool) {
        #expect(ConfigValue.parseBool(text) == expected)
        #expect(ConfigValueType<Bool>.boolean.parse(text) == expected)
    }

    @Test(arguments: ["", "2", "y", "n", "enabled", "truee", "-1"])
    func invalidBooleans(_ text: String) {
        #expect(ConfigValue.parseBool(text) == nil)
    }

    @Test func booleanType() {
        let type = ConfigValueType<Bool>.boolean
        #expect(type.format(true) == "true")
        #expect(type.format(false) == "false")
        #expect(type.expected == "true or false (or yes/no, on/off, 1/0)")
    }

    @Test(arguments: [("0660", UInt32(0o660)), ("0", 0), ("0000", 0), ("0777", 0o777), ("0600", 0o600), ("01777", 0o1777)])
    func validOctalModes(_ text: String, _ expected: UInt32) {
        #expect(ConfigValue.parseOctalMode(text) == expected)
    }

    @Test(arguments: ["", "660", "0680", "0o660", "0x1ff", "-0660", "0660 ", "rw-rw----"])
    func invalidOctalModes(_ text: String) {
        #expect(ConfigValue.parseOctalMode(text) == nil)
    }

    @Test(arguments: [(UInt32(0o660), "0660"), (0o7, "0007"), (0, "0000"), (0o777, "0777"), (0o1777, "01777")])
    func formattedOctalModes(_ mode: UInt32, _ expected: String) {
        #expect(ConfigValue.formatOctalMode(mode) == expected)
        #expect(ConfigValue.parseOctalMode(expected) == mode)
    }

    @Test(arguments: [
        ("/run/orderd/orderd.sock", ListenAddress.unix(path: "/run/orderd/orderd.sock")),
        ("/tmp/a:b.sock", .unix(path: "/tmp/a:b.sock")),
        ("127.0.0.1:9000", .tcp(host: "127.0.0.1", port: 9000)),
        ("10.0.0.1:1", .tcp(host: "10.0.0.1", port: 1)),
        ("0.0.0.0:65535", .tcp(host: "0.0.0.0", port: 65535)),
        ("[::1]:9000", .tcp(host: "::1", port: 9000)),
        ("[::]:9000", .tcp(host: "::", port: 9000)),
        ("[2001:db8::1]:443", .tcp(host: "2001:db8::1", port: 443)),
    ])
    func validListenAddresses(_ text: String, _ expected: ListenAddress) {
        #expect(ConfigValue.parseListenAddress(text) == expected)
        #expect(ConfigValue.formatListenAddress(expected) == text)
        #expect(expected.description == text)
    }

    @Test(arguments: [
        "", "orderd.sock", "run/orderd.sock", "./orderd.sock", "/run/orderd/", "9000", ":9000", "localhost:",
        "localhost:0", "localhost:65536", "localhost:http", "localhost:+80", "::1:9000", "[::1]", "[]:9000",
        "[127.0.0.1]:9000", "my host:9000", "unix:/run/orderd.sock", "localhost:9000", "example.com:80",
        "127.0.0.1.2:9000", "256.0.0.1:9000", "[fe80::1%eth0]:9000", "[::1]:", "127.0.0.1:9000 ",
        "/" + String(repeating: "a", count: 107),
    ])
    func invalidListenAddresses(_ text: String) {
        #expect(ConfigValue.parseListenAddress(text) == nil)
    }

    @Test func longestUnixSocketPath() {
        let path = "/" + String(repeating: "a", count: 106)
        #expect(ConfigValue.parseListenAddress(path) == .unix(path: path))
    }

    @Test(arguments: ["", "www-data", "nginx", "_orderd", "1000", "web.users"])
    func validGroupNames(_ text: String) {
        #expect(ConfigValue.isGroupName(text))
    }

    @Test(arguments: ["www data", "-x", "grüppe", "a:b", String(repeating: "g", count: 33)])
    func invalidGroupNames(_ text: String) {
        #expect(!ConfigValue.isGroupName(text))
    }

    @Test func enumerationsAreCaseSensitive() {
        let type = ConfigValueType<OrderdConfiguration.Log.Level>.enumeration
        #expect(type.parse("warning") == .warning)
        #expect(type.parse("Warning") == nil)
        #expect(type.parse("warn") == nil)
        #expect(type.expected == "one of trace, debug, info, notice, warning, error, critical")
        #expect(ConfigValueType<OrderdConfiguration.Store.Driver>.enumeration.expected == "one of sqlite, postgres")
    }

    @Test(arguments: [
        ("request", "request", 0), ("reqest", "request", 1), ("reqeust", "request", 1),
        ("Request_Timeout", "request_timeout", 2), ("", "abc", 3), ("abc", "", 3), ("listen", "level", 4),
    ])
    func editDistance(_ a: String, _ b: String, _ expected: Int) {
        #expect(ConfigLoader.editDistance(a, b) == expected)
    }
}
