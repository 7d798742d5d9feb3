import Foundation
import Testing
// @testable: these tests read internals: OrderdConfig (ConfigKey, INIParser, absolutePath, defaultText,
//  durationRange, …).
@testable import OrderdConfig

/// Loading and validation: every kind of problem with its exact message, and the example file.
@Suite struct ConfigLoaderTests {
    struct BadFile: CustomTestStringConvertible, Sendable {
        let name: String
        let text: String
        let messages: [String]
        var testDescription: String { name }
        init(_ name: String, _ text: String, _ messages: String...) {
            self.name = name
            self.text = text
            self.messages = messages
        }
    }

    static let badFiles: [BadFile] = [
        // Syntax
        BadFile("neither section, comment nor key", "[server]\nlisten = /run/o.sock\n\nblah\n",
                "Syntax error in /x.ini line 4: expected 'key = value', '[section]' or a comment, found 'blah'."),
        BadFile("unterminated quote", "[store]\npath = \"/var/lib/orderd/orderd.db\n",
                "Syntax error in /x.ini line 2: value of 'store.path' has no closing \" quote."),
        BadFile("unclosed [", "[server\nrequest_workers = 4\n",
                "Syntax error in /x.ini line 1: missing ']' in section header '[server'."),
        BadFile("key outside any section", "request_workers = 4\n[server]\n",
                "Key 'request_workers' in /x.ini line 1 is outside any section; put it below a [section] header."),
        BadFile("duplicate key", "[server]\nlisten = /run/a.sock\nrequest_workers = 4\n[log]\n[server]\nlisten = /run/b.sock\n",
                "Duplicate key 'server.listen' in /x.ini line 6; first set on line 2."),
        // Names
        BadFile("unknown section", "[server]\n\n[sever]\nlisten = /run/o.sock\n",
                "Unknown section '[sever]' in /x.ini line 3; expected one of [server], [store], [auth], [orders], [log], [executor], [outbox], [task.sms], [task.webhook], [task.audit], [task.stats]."),
        BadFile("section names are case-sensitive", "[Server]\n",
                "Unknown section '[Server]' in /x.ini line 1; expected one of [server], [store], [auth], [orders], [log], [executor], [outbox], [task.sms], [task.webhook], [task.audit], [task.stats]."),
        BadFile("misspelt key", "[server]\nreqest_timeout = 5s\n",
                "Unknown key 'server.reqest_timeout' in /x.ini line 2; did you mean 'server.request_timeout'?"),
        BadFile("transposed letters", "[store]\nbusy_tiemout = 5s\n",
                "Unknown key 'store.busy_tiemout' in /x.ini line 2; did you mean 'store.busy_timeout'?"),
        BadFile("key names are case-sensitive", "[log]\nLevel = info\n",
                "Unknown key 'log.Level' in /x.ini line 2; did you mean 'log.level'?"),
        BadFile("key in the wrong section", "[server]\nbusy_timeout = 5s\n",
                "Unknown key 'server.busy_timeout' in /x.ini line 2; did you mean 'store.busy_timeout'?"),
        BadFile("unknown key with nothing close", "[server]\nthreads = 4\n",
                "Unknown key 'server.threads' in /x.ini line 2; expected one of listen, listen_mode, listen_group, listen_backlog, request_workers, request_timeout, max_body_bytes, allow_from."),
        // Integers
        BadFile("integer: not a number", "[server]\nrequest_workers = abc\n",
                "Invalid value 'abc' for 'server.request_workers' in /x.ini line 2; expected auto or an integer from 1 to 256."),
        BadFile("integer: below range", "[server]\nrequest_workers = 0\n",
                "Invalid value '0' for 'server.request_workers' in /x.ini line 2; expected auto or an integer from 1 to 256."),
        BadFile("integer: above range", "[server]\nlisten_backlog = 65536\n",
                "Invalid value '65536' for 'server.listen_backlog' in /x.ini line 2; expected an integer from 16 to 65535."),
        BadFile("integer: empty", "[server]\nrequest_workers =\n",
                "Invalid value '' for 'server.request_workers' in /x.ini line 2; expected auto or an integer from 1 to 256."),
        BadFile("integer: decimal point", "[server]\nrequest_workers = 4.0\n",
                "Invalid value '4.0' for 'server.request_workers' in /x.ini line 2; expected auto or an integer from 1 to 256."),
        // Durations
        BadFile("duration: retention above a year", "[outbox]\nretention = 366d\n",
                "Invalid value '366d' for 'outbox.retention' in /x.ini line 2; expected a duration from 0s to 365d (a whole number with unit ms, s, m, h or d)."),
        BadFile("duration: no unit", "[server]\nrequest_timeout = 30\n",
                "Invalid value '30' for 'server.request_timeout' in /x.ini line 2; expected a duration from 100ms to 10m (a whole number with unit ms, s, m, h or d)."),
        BadFile("duration: fraction", "[store]\nbusy_timeout = 1.5s\n",
                "Invalid value '1.5s' for 'store.busy_timeout' in /x.ini line 2; expected a duration from 10ms to 1m (a whole number with unit ms, s, m, h or d)."),
        BadFile("duration: below range", "[server]\nrequest_timeout = 50ms\n",
                "Invalid value '50ms' for 'server.request_timeout' in /x.ini line 2; expected a duration from 100ms to 10m (a whole number with unit ms, s, m, h or d)."),
        BadFile("duration: above range", "[orders]\nidempotency_ttl = 31d\n",
                "Invalid value '31d' for 'orders.idempotency_ttl' in /x.ini line 2; expected a duration from 1m to 30d (a whole number with unit ms, s, m, h or d)."),
        // Sizes
        BadFile("size: unknown suffix", "[server]\nmax_body_bytes = 64kb\n",
                "Invalid value '64kb' for 'server.max_body_bytes' in /x.ini line 2; expected a size from 1k to 16m (bytes, or a whole number with suffix k, m or g)."),
        BadFile("size: below range", "[server]\nmax_body_bytes = 512\n",
                "Invalid value '512' for 'server.max_body_bytes' in /x.ini line 2; expected a size from 1k to 16m (bytes, or a whole number with suffix k, m or g)."),
        BadFile("size: above range", "[server]\nmax_body_bytes = 1g\n",
                "Invalid value '1g' for 'server.max_body_bytes' in /x.ini line 2; expected a size from 1k to 16m (bytes, or a whole number with suffix k, m or g)."),
        // Octal modes
        BadFile("octal: no leading zero", "[server]\nlisten_mode = 660\n",
                "Invalid value '660' for 'server.listen_mode' in /x.ini line 2; expected an octal mode from 0000 to 0777 with a leading zero, such as 0660."),
        BadFile("octal: digit 8", "[server]\nlisten_mode = 0680\n",
                "Invalid value '0680' for 'server.listen_mode' in /x.ini line 2; expected an octal mode from 0000 to 0777 with a leading zero, such as 0660."),
        BadFile("octal: above range", "[server]\nlisten_mode = 01777\n",
                "Invalid value '01777' for 'server.listen_mode' in /x.ini line 2; expected an octal mode from 0000 to 0777 with a leading zero, such as 0660."),
        // Enums
        BadFile("enum: store driver", "[store]\ndriver = mysql\n",
                "Invalid value 'mysql' for 'store.driver' in /x.ini line 2; expected one of sqlite, postgres."),
        BadFile("postgres without url", "[store]\ndriver = postgres\n",
                "Missing value for 'store.url' in /x.ini: 'store.driver' is postgres in /x.ini line 2; expected a URL such as postgres://orderd@127.0.0.1:5432/orderd, or driver = sqlite."),
        BadFile("postgres url: bad sslmode", "[store]\nurl = postgres://orderd@127.0.0.1/orderd?sslmode=maybe\n",
                "Invalid value (not shown: a URL may hold a password) for 'store.url' in /x.ini line 2; sslmode takes disable, prefer, require, verify-full; expected a URL such as postgres://orderd@db.example:5432/orderd?sslrootcert=/etc/orderd/pg-ca.pem, without a password (use store.password_file or $PGPASSWORD), or nothing."),
        BadFile("postgres url: a password", "[store]\nurl = postgres://orderd:hunter2@127.0.0.1/orderd\n",
                "Invalid value (not shown: a URL may hold a password) for 'store.url' in /x.ini line 2; a password in the URL is refused; put it in the file store.password_file names, or in $PGPASSWORD; expected a URL such as postgres://orderd@db.example:5432/orderd?sslrootcert=/etc/orderd/pg-ca.pem, without a password (use store.password_file or $PGPASSWORD), or nothing."),
        BadFile("postgres url: sslrootcert with require", "[store]\nurl = postgres://orderd@127.0.0.1/orderd?sslmode=require&sslrootcert=/ca.pem\n",
                "Invalid value (not shown: a URL may hold a password) for 'store.url' in /x.ini line 2; sslrootcert goes with sslmode=verify-full (or no sslmode, which then means verify-full); expected a URL such as postgres://orderd@db.example:5432/orderd?sslrootcert=/etc/orderd/pg-ca.pem, without a password (use store.password_file or $PGPASSWORD), or nothing."),
        BadFile("http url: user info", "[task.webhook]\nurl = https://shop:s3cret@hooks.example/orders\n",
                "Invalid value (not shown: a URL may hold a password) for 'task.webhook.url' in /x.ini line 2; user info (user:password@) in the URL is refused; expected an http:// or https:// URL with a host, such as http://127.0.0.1:9000/sms, or nothing."),
        // server.allow_from
        BadFile("allow_from: not an address", "[server]\nallow_from = 10.0.0.0/8, web1\n",
                "Invalid value '10.0.0.0/8, web1' for 'server.allow_from' in /x.ini line 2; expected IP addresses or CIDR blocks (IPv4 or IPv6, such as 10.0.0.0/8, 127.0.0.1, fd00::/8) separated by commas or blanks, or nothing for every peer."),
        BadFile("allow_from: prefix too long", "[server]\nallow_from = 10.0.0.0/33\n",
                "Invalid value '10.0.0.0/33' for 'server.allow_from' in /x.ini line 2; expected IP addresses or CIDR blocks (IPv4 or IPv6, such as 10.0.0.0/8, 127.0.0.1, fd00::/8) separated by commas or blanks, or nothing for every peer."),
        BadFile("enum: case-sensitive", "[store]\nsynchronous = FULL\n",
                "Invalid value 'FULL' for 'store.synchronous' in /x.ini line 2; expected one of full, normal."),
        BadFile("enum: log level", "[log]\nlevel = verbose\n",
                "Invalid value 'verbose' for 'log.level' in /x.ini line 2; expected one of trace, debug, info, notice, warning, error, critical."),
        BadFile("enum: log format", "[log]\nformat = text\n",
                "Invalid value 'text' for 'log.format' in /x.ini line 2; expected one of logfmt, json."),
        // Listen addresses
        BadFile("listen: relative path", "[server]\nlisten = run/orderd.sock\n",
                "Invalid value 'run/orderd.sock' for 'server.listen' in /x.ini line 2; expected an absolute unix socket path of at most 107 bytes, or IP:port such as 127.0.0.1:9000 or [::1]:9000 with a port from 1 to 65535."),
        BadFile("listen: port 0", "[server]\nlisten = 127.0.0.1:0\n",
                "Invalid value '127.0.0.1:0' for 'server.listen' in /x.ini line 2; expected an absolute unix socket path of at most 107 bytes, or IP:port such as 127.0.0.1:9000 or [::1]:9000 with a port from 1 to 65535."),
        BadFile("listen: port too large", "[server]\nlisten = 127.0.0.1:70000\n",
                "Invalid value '127.0.0.1:70000' for 'server.listen' in /x.ini line 2; expected an absolute unix socket path of at most 107 bytes, or IP:port such as 127.0.0.1:9000 or [::1]:9000 with a port from 1 to 65535."),
        BadFile("listen: no host", "[server]\nlisten = :9000\n",
                "Invalid value ':9000' for 'server.listen' in /x.ini line 2; expected an absolute unix socket path of at most 107 bytes, or IP:port such as 127.0.0.1:9000 or [::1]:9000 with a port from 1 to 65535."),
        BadFile("listen: host name", "[server]\nlisten = localhost:9000\n",
                "Invalid value 'localhost:9000' for 'server.listen' in /x.ini line 2; expected an absolute unix socket path of at most 107 bytes, or IP:port such as 127.0.0.1:9000 or [::1]:9000 with a port from 1 to 65535."),
        // Paths and names
        BadFile("path: relative", "[store]\npath = orderd.db\n",
                "Invalid value 'orderd.db' for 'store.path' in /x.ini line 2; expected an absolute file path."),
        BadFile("path: empty", "[store]\npath = \"\"\n",
                "Invalid value '' for 'store.path' in /x.ini line 2; expected an absolute file path."),
        BadFile("group: blank inside", "[server]\nlisten_group = www data\n",
                "Invalid value 'www data' for 'server.listen_group' in /x.ini line 2; expected a group name, or nothing for the process's own group."),
        // Several at once, in line order, with the file-level context kept
        BadFile("every problem, in line order",
                "workers = 1\n[server]\nrequest_workers = 300\nblah\n[sever]\nx = 1\n[log]\nlevel = loud\nlevel = info\n",
                "Key 'workers' in /x.ini line 1 is outside any section; put it below a [section] header.",
                "Invalid value '300' for 'server.request_workers' in /x.ini line 3; expected auto or an integer from 1 to 256.",
                "Syntax error in /x.ini line 4: expected 'key = value', '[section]' or a comment, found 'blah'.",
                "Unknown section '[sever]' in /x.ini line 5; expected one of [server], [store], [auth], [orders], [log], [executor], [outbox], [task.sms], [task.webhook], [task.audit], [task.stats].",
                "Invalid value 'loud' for 'log.level' in /x.ini line 8; expected one of trace, debug, info, notice, warning, error, critical.",
                "Duplicate key 'log.level' in /x.ini line 9; first set on line 8."),
    ]

    @Test(arguments: badFiles)
    func badFile(_ bad: BadFile) {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(text: bad.text, file: "/x.ini") }
        do {
            _ = try ConfigLoader.parse(text: bad.text, file: "/x.ini")
        } catch {
            #expect(error.problems.map(\.message) == bad.messages)
            #expect(error.description == bad.messages.joined(separator: "\n"))
        }
    }

    @Test func threeMistakesGiveExactlyThreeLines() {
        let text = """
            ; orderd.ini with three mistakes
            [server]
            listen = /run/orderd/orderd.sock
            reqest_timeout = 5s
            request_workers = abc

            [store]
            path = /var/lib/orderd/orderd.db
            busy_timeout = 5s

            [log]
            level = info
            format = xml

            """
        do {
            _ = try ConfigLoader.parse(text: text, file: "/etc/orderd/orderd.ini")
            Issue.record("expected a ConfigError")
        } catch {
            #expect(error.description == """
                Unknown key 'server.reqest_timeout' in /etc/orderd/orderd.ini line 4; did you mean 'server.request_timeout'?
                Invalid value 'abc' for 'server.request_workers' in /etc/orderd/orderd.ini line 5; expected auto or an integer from 1 to 256.
                Invalid value 'xml' for 'log.format' in /etc/orderd/orderd.ini line 13; expected one of logfmt, json.
                """)
            #expect(error.problems.map(\.kind) == [.unknownKey, .invalidValue, .invalidValue])
            #expect(error.problems.map(\.line) == [4, 5, 13])
            #expect(error.problems.map(\.key) == ["server.reqest_timeout", "server.request_workers", "log.format"])
            #expect(error.problems.map(\.value) == [nil, "abc", "xml"])
            #expect(error.problems.allSatisfy { $0.file == "/etc/orderd/orderd.ini" })
        }
    }

    @Test func everyKeySet() throws {
        let text = """
            [server]
            listen = [::1]:9000
            listen_mode = 0600
            listen_group = www-data
            listen_backlog = 16
            request_workers = 256
            request_timeout = 100ms
            max_body_bytes = 16M
            [store]
            driver = sqlite
            path = "/srv/order data/orders.db"
            synchronous = normal
            busy_timeout = 1m
            [orders]
            idempotency_ttl = 30d
            [log]
            level = debug
            format = json
            [outbox]
            retention = 0s
            """
        let configuration = try ConfigLoader.parse(text: text, file: "/x.ini")
        var expected = OrderdConfiguration()
        expected.outbox.retention = .zero
        expected.server.listen = .tcp(host: "::1", port: 9000)
        expected.server.listenMode = 0o600
        expected.server.listenGroup = "www-data"
        expected.server.listenBacklog = 16
        expected.server.requestWorkers = 256
        expected.server.requestTimeout = .milliseconds(100)
        expected.server.maxBodyBytes = 16 << 20
        expected.store.path = "/srv/order data/orders.db"
        expected.store.synchronous = .normal
        expected.store.busyTimeout = .seconds(60)
        expected.orders.idempotencyTTL = .seconds(30 * 86_400)
        expected.log.level = .debug
        expected.log.format = .json
        #expect(configuration == expected)
    }

    @Test(arguments: ["", "\n", "; only comments\n", "\u{FEFF}", "[server]\n[store]\n[orders]\n[log]\n"])
    func emptyFilesGiveDefaults(_ text: String) throws {
        #expect(try ConfigLoader.parse(text: text, file: "/x.ini") == OrderdConfiguration())
    }

    @Test func quotedValuesAreTyped() throws {
        let configuration = try ConfigLoader.parse(text: "[server]\nrequest_workers = \"4\"\nrequest_timeout = '2s'\n", file: "/x.ini")
        #expect(configuration.server.requestWorkers == 4)
        #expect(configuration.server.requestTimeout == .seconds(2))
    }

    @Test func secretValuesAreNotEchoed() {
        var keys = ConfigSchema.keys
        keys.append(ConfigKey("store", "password", \.store.path, .absolutePath, secret: true))
        do {
            _ = try ConfigLoader.parse(text: "[store]\npassword = hunter2\n", file: "/x.ini", keys: keys)
            Issue.record("expected a ConfigError")
        } catch {
            #expect(error.description == "Invalid value for 'store.password' in /x.ini line 2; expected an absolute file path.")
            #expect(error.problems.first?.value == nil)
        }
    }

    /// What `ExecStartPre=orderd check-config` would send to the journal for a password in `store.url`: file, line,
    /// key and what was expected, never the password nor the rest of the URL.
    @Test(arguments: [
        "postgres://orderd:hunter2-Pw@pg.internal/orderd",
        "postgres://orderd@pg.internal/orderd?password=hunter2-Pw",
        "postgres://orderd:hunter2-Pw@pg.internal/orderd?sslmode=maybe",
        "postgres://orderd:hunter2-Pw/x@pg.internal/orderd",
    ])
    func aPasswordInTheStoreURLIsRefusedWithoutEchoingIt(_ url: String) {
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(text: "[store]\ndriver = postgres\nurl = \(url)\n", file: "/etc/orderd/orderd.ini")
        }
        let text = error?.description ?? ""
        #expect(!text.contains("hunter2") && !text.contains("pg.internal"), "\(text)")
        #expect(text.contains("'store.url' in /etc/orderd/orderd.ini line 3") && text.contains("expected a URL"), "\(text)")
        #expect(error?.problems.first?.value == nil)
    }

    /// Every key that holds a secret or names where one is, is marked so in the schema: by its type (a `*_file` key
    /// is `.secretFile`, a URL one of the URL types) or `secret: true`. A new key named like a secret fails here
    /// until it is marked.
    @Test func keysThatHoldOrPointToSecretsAreMarked() {
        for key in ConfigSchema.keys {
            let name = key.name.lowercased()
            if name.hasSuffix("_file") && (name.contains("password") || name.contains("secret") || name.contains("key") || name.contains("auth") || name.contains("token")) {
                #expect(key.sensitivity == .secretLocation || key.sensitivity == .secret, "\(key.fullName)")
            } else if name.contains("password") || name.contains("secret") || name.contains("token") {
                #expect(key.sensitivity == .secret, "\(key.fullName)")
            }
            if name == "url" || name.hasSuffix("_url") {
                #expect(key.sensitivity == .url, "\(key.fullName)")
            }
        }
        let marked = ConfigSchema.keys.filter { $0.sensitivity != .plain }.map(\.fullName)
        #expect(Set(["store.url", "store.password_file", "task.sms.gateway_url", "task.webhook.url"]).isSubset(of: marked))
    }

    // MARK: Files

    @Test func missingFile() {
        do {
            _ = try ConfigLoader.load(path: "/nonexistent/orderd/orderd.ini")
            Issue.record("expected a ConfigError")
        } catch {
            #expect(error.description == "Cannot read configuration file /nonexistent/orderd/orderd.ini: No such file or directory.")
            #expect(error.problems.map(\.kind) == [.unreadableFile])
            #expect(error.problems.first?.line == nil)
        }
    }

    @Test func directoryIsUnreadable() throws {
        let directory = try TemporaryDirectory()
        do {
            _ = try ConfigLoader.load(path: directory.path)
            Issue.record("expected a ConfigError")
        } catch {
            #expect(error.description == "Cannot read configuration file \(directory.path): Is a directory.")
        }
    }

    @Test func invalidUTF8IsUnreadable() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("bad.ini", Data([0x5B, 0x6C, 0x6F, 0x67, 0x5D, 0x0A, 0xFF, 0xFE, 0x0A]))
        do {
            _ = try ConfigLoader.load(path: path)
            Issue.record("expected a ConfigError")
        } catch {
            #expect(error.description == "Cannot read configuration file \(path): not valid UTF-8.")
        }
    }

    @Test func tooLargeIsUnreadable() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("big.ini", Data(repeating: 0x0A, count: ConfigLoader.maxFileBytes + 1))
        do {
            _ = try ConfigLoader.load(path: path)
            Issue.record("expected a ConfigError")
        } catch {
            #expect(error.description == "Cannot read configuration file \(path): larger than 1 MiB.")
        }
    }

    @Test func loadsAFileWithBOMAndCRLF() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("orderd.ini", Data("\u{FEFF}[server]\r\nrequest_workers = 3\r\n".utf8))
        #expect(try ConfigLoader.load(path: path).server.requestWorkers == 3)
    }

    @Test func problemsInALoadedFileNameIt() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("orderd.ini", Data("[server]\nrequest_workers = 0\n".utf8))
        #expect {
            try ConfigLoader.load(path: path)
        } throws: { error in
            (error as? ConfigError)?.problems.first?.message
                == "Invalid value '0' for 'server.request_workers' in \(path) line 2; expected auto or an integer from 1 to 256."
        }
    }

    // MARK: The example file

    static let examplePath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("config/orderd.ini").path

    @Test func exampleFileGivesTheDefaults() throws {
        #expect(try ConfigLoader.load(path: Self.examplePath) == OrderdConfiguration())
    }

    /// The example shows every key commented out as `;key = default`: uncommented, the file must
    /// set exactly the table's keys, to their defaults.
    @Test func exampleFileDocumentsEveryKeyAtItsDefault() throws {
        let text = try String(contentsOfFile: Self.examplePath, encoding: .utf8)
        let uncommented = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.wholeMatch(of: /;([a-z][a-z0-9_]*) =.*/) != nil ? line.dropFirst() : line
        }.joined(separator: "\n")

        #expect(try ConfigLoader.parse(text: uncommented, file: Self.examplePath) == OrderdConfiguration())
        let document = INIParser.parse(uncommented, file: Self.examplePath)
        #expect(document.entries.map { "\($0.section).\($0.key)" } == ConfigSchema.keys.map(\.fullName))
        for entry in document.entries {
            let key = try #require(ConfigSchema.keys.first { $0.fullName == "\(entry.section).\(entry.key)" })
            #expect(entry.value == key.defaultText, "\(key.fullName) is shown as '\(entry.value)'")
        }
    }

    /// Ranges and defaults live in the schema alone: the `; Type: …. Default: …. Range: a-b.` line the example
    /// file shows above each key must say what the schema says, so an edited range cannot leave the file behind.
    @Test func exampleFileStatesTheSchemasDefaultsAndRanges() throws {
        let lines = try String(contentsOfFile: Self.examplePath, encoding: .utf8).split(separator: "\n").map(String.init)
        var section = ""
        var checked = 0
        for (index, line) in lines.enumerated() {
            if let header = line.wholeMatch(of: /\[([a-z.]+)\]/) { section = String(header.1) }
            guard let entry = line.wholeMatch(of: /;([a-z][a-z0-9_]*) =.*/) else { continue }
            let key = try #require(ConfigSchema.keys.first { $0.fullName == "\(section).\(entry.1)" })
            // The comment block right above the key.
            let block = lines[..<index].reversed().prefix { $0.hasPrefix(";") && $0.wholeMatch(of: /;[a-z].*/) == nil }
            guard let typeLine = block.first(where: { $0.hasPrefix("; Type:") }) else { continue }
            if let stated = typeLine.firstMatch(of: /Default: ([^ ]+?)[.]?( |$)/)?.1 {
                let expected = key.defaultText.isEmpty ? ["empty", "none"] : [key.defaultText]
                #expect(expected.contains(String(stated)), "\(key.fullName): the file says Default: \(stated)")
            }
            if let range = typeLine.firstMatch(of: /Range: ([0-9a-z]+)-([0-9a-z]+)\./) {
                if let bounds = key.durationRange {
                    #expect(ConfigValue.parseDuration(String(range.1)) == bounds.lowerBound, "\(key.fullName) lower bound")
                    #expect(ConfigValue.parseDuration(String(range.2)) == bounds.upperBound, "\(key.fullName) upper bound")
                } else if key.expected.hasPrefix("an integer") {
                    #expect(key.expected == "an integer from \(range.1) to \(range.2)", "\(key.fullName): \(key.expected)")
                }
            }
            checked += 1
        }
        #expect(checked >= 40, "only \(checked) keys had a Type line")
    }
}

/// A fresh directory under the system temporary directory, removed when the value goes away.
private final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("orderd-config-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ data: Data) throws -> String {
        let file = path + "/" + name
        try data.write(to: URL(fileURLWithPath: file))
        return file
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Rules across keys, and the value types the task sections brought.
@Suite struct ConfigTaskSectionTests {
    @Test func httpDriverWithoutAGatewayIsRefusedNamingBothKeys() {
        let error = #expect(throws: ConfigError.self) {
            _ = try ConfigLoader.parse(text: "[task.sms]\ndriver = http\n", file: "/x.ini")
        }
        #expect(error?.description == "Missing value for 'task.sms.gateway_url' in /x.ini: 'task.sms.driver' is http in /x.ini line 2; expected an http:// or https:// URL of the SMS gateway, or driver = log.")
    }

    @Test func urlsAndOptionalTimeouts() throws {
        let configuration = try ConfigLoader.parse(text: """
            [task.sms]
            driver = http
            gateway_url = http://127.0.0.1:9000/sms
            timeout = 250ms
            [task.webhook]
            url = https://shop.example/hooks/orders
            secret_file = /etc/orderd/webhook.secret
            """, file: "/x.ini")
        #expect(configuration.sms.timeout == .milliseconds(250))
        #expect(configuration.webhook.timeout == nil)

        for bad in ["ftp://x/y", "http://", "http://user@host/", "127.0.0.1:9000", "http://a b/"] {
            let error = #expect(throws: ConfigError.self) {
                _ = try ConfigLoader.parse(text: "[task.webhook]\nurl = \(bad)\n", file: "/x.ini")
            }
            #expect(error?.problems.first?.key == "task.webhook.url", "\(bad)")
        }
    }

    @Test func backoffCapBelowTheFirstDelayIsRefused() {
        let error = #expect(throws: ConfigError.self) {
            _ = try ConfigLoader.parse(text: "[executor]\nretry_backoff = 2s\nretry_backoff_max = 1s\n", file: "/x.ini")
        }
        #expect(error?.problems.first?.line == 3)
        #expect(error?.description.contains("expected at least executor.retry_backoff (2s)") == true)
    }
}
