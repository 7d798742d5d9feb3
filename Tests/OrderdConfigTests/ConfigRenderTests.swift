import Testing
// @testable: these tests read internals: OrderdConfig (ConfigKey, INIParser, absolutePath, groupName, quotedForINI).
@testable import OrderdConfig

/// `renderINI()`: the effective configuration as INI text, and back.
@Suite struct ConfigRenderTests {
    @Test func defaults() {
        #expect(OrderdConfiguration().renderINI() == """
            [server]
            listen = /run/orderd/orderd.sock
            listen_mode = 0660
            listen_group =
            listen_backlog = 1024
            request_workers = auto
            request_timeout = 30s
            max_body_bytes = 64k
            allow_from =

            [store]
            driver = sqlite
            path = /var/lib/orderd/orderd.db
            synchronous = full
            busy_timeout = 5s
            url =
            password_file =
            pool_size = 20
            connect_timeout = 5s
            synchronous_commit = on

            [auth]
            keys_file = credential:api-keys
            orders_per_minute = 600

            [orders]
            idempotency_ttl = 24h

            [log]
            level = info
            format = logfmt
            slow_request = 1s
            requests = false

            [executor]
            workers = 5
            queue_capacity = 1024
            task_timeout = 10s
            drain_timeout = 10s
            lease_timeout = 1m
            poll_interval = 1s
            retry_backoff = 1s
            retry_backoff_max = 10m

            [outbox]
            retention = 7d

            [task.sms]
            driver = log
            gateway_url =
            timeout =
            max_attempts = 5
            max_age = 1h
            auth_header_file =
            per_recipient = 5/1h

            [task.webhook]
            url =
            timeout =
            max_attempts = 10
            max_age = 24h
            secret_file =

            [task.audit]
            path = /var/lib/orderd/audit.log
            timeout =
            max_attempts = 20
            max_age = 7d

            [task.stats]
            enabled = true
            timeout =

            """)
    }

    static var variants: [(String, OrderdConfiguration)] {
        func changed(_ change: (inout OrderdConfiguration) -> Void) -> OrderdConfiguration {
            var configuration = OrderdConfiguration()
            change(&configuration)
            return configuration
        }
        return [
            ("defaults", OrderdConfiguration()),
            ("everything changed", changed {
                $0.server.listen = .tcp(host: "127.0.0.1", port: 9000)
                $0.server.listenMode = 0o600
                $0.server.listenGroup = "www-data"
                $0.server.listenBacklog = 4096
                $0.server.requestWorkers = 1
                $0.server.requestTimeout = .milliseconds(250)
                $0.server.maxBodyBytes = 1536
                $0.store.path = "/srv/orders.db"
                $0.store.synchronous = .normal
                $0.store.busyTimeout = .milliseconds(10)
                $0.orders.idempotencyTTL = .seconds(90)
                $0.log.level = .trace
                $0.log.format = .json
                $0.server.allowFrom = AllowedPeers("10.0.0.0/8, ::1")!
                $0.executor.workers = 64
                $0.executor.queueCapacity = 1
                $0.executor.drainTimeout = .zero
                $0.executor.retryBackoff = .milliseconds(10)
                $0.sms.driver = .http
                $0.sms.gatewayURL = "https://sms.example.com:8443/v1/send"
                $0.sms.timeout = .milliseconds(1500)
                $0.sms.authHeaderFile = "credential:sms-gateway"
                $0.sms.perRecipient = RecipientLimit(count: 20, window: .seconds(86_400))
                $0.webhook.url = "http://[::1]:9000/hook"
                $0.webhook.secretFile = "/etc/orderd/webhook.secret"
                $0.audit.path = "/var/log/orderd/audit.jsonl"
                $0.stats.enabled = false
            }),
            ("IPv6 listen address", changed { $0.server.listen = .tcp(host: "::1", port: 9000) }),
            ("awkward path: blanks, ; and #", changed { $0.store.path = "/srv/a ;b #c/orders.db " }),
            ("path with a double quote", changed { $0.store.path = "/srv/\"x\" ;/db" }),
            ("path starting with a quote character is still absolute", changed { $0.server.listen = .unix(path: "/'q.sock") }),
            ("long durations", changed { $0.orders.idempotencyTTL = .seconds(36 * 3600) }),
        ]
    }

    @Test(arguments: variants)
    func roundTrip(_ name: String, _ configuration: OrderdConfiguration) throws {
        let text = configuration.renderINI()
        #expect(try ConfigLoader.parse(text: text, file: "rendered") == configuration, "\(text)")
    }

    @Test func valuesAreQuotedOnlyWhenNeeded() {
        var configuration = OrderdConfiguration()
        configuration.store.path = "/srv/a ;b/orders.db"
        configuration.server.listen = .tcp(host: "::1", port: 9000)
        let text = configuration.renderINI()
        #expect(text.contains("\npath = \"/srv/a ;b/orders.db\"\n"))
        #expect(text.contains("\nlisten = [::1]:9000\n"))
    }

    @Test(arguments: [
        ("plain", "plain"), ("", ""), ("a;b", "a;b"), ("a ;b", "\"a ;b\""), ("a\t#b", "\"a\t#b\""), (" lead", "\" lead\""),
        ("trail ", "\"trail \""), ("#x", "\"#x\""), (";x", "\";x\""), ("\"x", "'\"x'"), ("'x", "\"'x\""),
        ("say \"hi\" ;", "'say \"hi\" ;'"),
    ])
    func quoting(_ value: String, _ expected: String) {
        #expect(OrderdConfiguration.quotedForINI(value) == expected)
        let parsed = INIParser.parse("[s]\nk = \(expected)\n", file: "q")
        #expect(parsed.entries.first?.value == value)
    }

    @Test func secretsAreMasked() throws {
        var keys = ConfigSchema.keys
        keys.append(ConfigKey("store", "password", \.store.path, .absolutePath, secret: true))
        let text = OrderdConfiguration().renderINI(keys: keys)
        #expect(text.contains("\npassword = ********\n"))
        #expect(text.contains("\npath = /var/lib/orderd/orderd.db\n"))
        #expect(!text.contains("password = /var/lib"))
    }

    @Test func urlsAreShownWithUserinfoAndQueryValuesMasked() throws {
        var configuration = OrderdConfiguration()
        configuration.store.url = "postgres://orderd@db.example:5432/shop?sslrootcert=/etc/orderd/ca.pem&application_name=o1"
        configuration.store.passwordFile = "credential:pgpassword"
        configuration.sms.gatewayURL = "https://gw.example/send?token=t0ps3cret&from=shop"
        configuration.webhook.url = "https://hooks.example/orders?sig=abc123"
        let text = configuration.renderINI()
        #expect(text.contains("\nurl = postgres://orderd@db.example:5432/shop?sslrootcert=***&application_name=***\n"), "\(text)")
        #expect(text.contains("\ngateway_url = https://gw.example/send?token=***&from=***\n"))
        #expect(text.contains("\nurl = https://hooks.example/orders?sig=***\n"))
        // A *_file key names a place, not the secret: shown as it is.
        #expect(text.contains("\npassword_file = credential:pgpassword\n"))
        #expect(!text.contains("t0ps3cret") && !text.contains("abc123"))
    }

    @Test func emptySecretsStayEmpty() {
        var keys = ConfigSchema.keys
        keys.append(ConfigKey("server", "token", \.server.listenGroup, .groupName, secret: true))
        #expect(OrderdConfiguration().renderINI(keys: keys).contains("\ntoken =\n"))
    }
}
