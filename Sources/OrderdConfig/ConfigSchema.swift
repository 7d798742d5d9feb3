import OrderdSupport

/// One INI key: where it lives, how its text becomes a value in `OrderdConfiguration`, and how
/// the effective value is written back. Loading, error messages and `renderINI()` all read it.
package struct ConfigKey: Sendable {
    let section: String
    let name: String
    /// Completes "expected ...", e.g. `an integer from 1 to 256`.
    let expected: String
    /// How the value may be shown wherever configuration is shown (`check-config`, `/status`, logs, messages).
    let sensitivity: Sensitivity
    /// Parses `text` into the configuration; `false` if the text is invalid or out of range.
    package let assign: @Sendable (_ text: String, _ configuration: inout OrderdConfiguration) -> Bool
    /// The key's effective value as INI text, unquoted.
    package let render: @Sendable (OrderdConfiguration) -> String
    /// The allowed range of a duration key; nil for other types.
    let durationRange: ClosedRange<Duration>?

    /// Whether a reload (SIGHUP) puts a new value in force or the key keeps its running value until a restart.
    package let reload: Reload

    /// Why an invalid value was refused, beyond `expected` (e.g. "a password in the URL is refused"); never
    /// quotes the value.
    let refusalReason: @Sendable (String) -> String?

    /// What a reload does with a changed value.
    package enum Reload: Sendable, Equatable {
        /// In force for what starts after the reload (requests, tasks, connections); what is in flight finishes
        /// under the value it started with.
        case live
        /// The socket, the request threads, the store: a running process cannot take them over. A changed value
        /// is reported and keeps its running value.
        case restart
    }

    /// How much of a key's value may be shown.
    enum Sensitivity: Sendable, Equatable {
        /// Shown as it is.
        case plain
        /// Holds a secret itself: masked whole when rendered, left out of error messages. Mark every such key
        /// (`secret: true`).
        case secret
        /// Names where a secret is (the `*_file` keys: a path or `credential:<name>`): shown as it is. The place is
        /// not the secret, reading it needs the file's permissions anyway, and ops must see which file is read;
        /// the file's contents are never shown anywhere. Implied by the `.secretFile` value type.
        case secretLocation
        /// A URL, which may carry credentials (userinfo, a token parameter): shown with `SecretMask.url`, and an
        /// invalid one is not quoted in messages at all (text that does not parse cannot be masked reliably).
        /// Implied by the URL value types.
        case url
    }

    /// Secret values are never echoed: masked when rendered, left out of error messages.
    var isSecret: Bool { sensitivity == .secret }

    /// `text` (this key's value as INI text) as it may be shown.
    func shown(_ text: String) -> String {
        guard !text.isEmpty else { return text }
        switch sensitivity {
        case .plain, .secretLocation: return text
        case .secret: return OrderdConfiguration.maskedSecret
        case .url: return SecretMask.url(text)
        }
    }

    /// `section.name`, as used in messages.
    package var fullName: String { "\(section).\(name)" }
    /// The default value as INI text.
    var defaultText: String { render(OrderdConfiguration()) }

    init<Value>(_ section: String, _ name: String,
                _ keyPath: WritableKeyPath<OrderdConfiguration, Value> & Sendable,
                _ type: ConfigValueType<Value>, secret: Bool = false, reload: Reload = .live) {
        self.section = section
        self.name = name
        self.expected = type.expected
        self.sensitivity = secret ? .secret : type.sensitivity
        self.reload = reload
        self.refusalReason = type.refusalReason
        self.assign = { text, configuration in
            guard let value = type.parse(text) else { return false }
            configuration[keyPath: keyPath] = value
            return true
        }
        self.render = { type.format($0[keyPath: keyPath]) }
        self.durationRange = type.durationRange
    }
}

/// The table of every key orderd reads. Adding a key is one entry here (plus its property in
/// `OrderdConfiguration` and its documentation in `config/orderd.ini`).
package enum ConfigSchema {
    package static let keys: [ConfigKey] = [
        ConfigKey("server", "listen", \.server.listen, .listenAddress, reload: .restart),
        ConfigKey("server", "listen_mode", \.server.listenMode, .octalMode(0...0o777), reload: .restart),
        ConfigKey("server", "listen_group", \.server.listenGroup, .groupName, reload: .restart),
        ConfigKey("server", "listen_backlog", \.server.listenBacklog, .integer(16...65535), reload: .restart),
        ConfigKey("server", "request_workers", \.server.requestWorkers, .integerOrAuto(1...256), reload: .restart),
        ConfigKey("server", "request_timeout", \.server.requestTimeout, .duration(.milliseconds(100)...(.seconds(600)))),
        ConfigKey("server", "max_body_bytes", \.server.maxBodyBytes, .size(1024...(16 << 20))),
        ConfigKey("server", "allow_from", \.server.allowFrom, .allowedPeers),

        ConfigKey("store", "driver", \.store.driver, .enumeration, reload: .restart),
        ConfigKey("store", "path", \.store.path, .absolutePath, reload: .restart),
        ConfigKey("store", "synchronous", \.store.synchronous, .enumeration, reload: .restart),
        ConfigKey("store", "busy_timeout", \.store.busyTimeout, .duration(.milliseconds(10)...(.seconds(60)))),
        ConfigKey("store", "url", \.store.url, .postgresURL, reload: .restart),
        ConfigKey("store", "password_file", \.store.passwordFile, .secretFile, reload: .restart),
        ConfigKey("store", "pool_size", \.store.poolSize, .integer(1...1000), reload: .restart),
        ConfigKey("store", "connect_timeout", \.store.connectTimeout, .duration(.milliseconds(100)...(.seconds(600))), reload: .restart),
        ConfigKey("store", "synchronous_commit", \.store.synchronousCommit, .enumeration, reload: .restart),

        ConfigKey("auth", "keys_file", \.auth.keysFile, .requiredSecretFile, reload: .restart),
        ConfigKey("auth", "orders_per_minute", \.auth.ordersPerMinute, .integer(0...1_000_000)),

        ConfigKey("orders", "idempotency_ttl", \.orders.idempotencyTTL, .duration(.seconds(60)...(.seconds(30 * 86_400))), reload: .restart),

        ConfigKey("log", "level", \.log.level, .enumeration),
        ConfigKey("log", "format", \.log.format, .enumeration),
        ConfigKey("log", "slow_request", \.log.slowRequest, .duration(.zero...(.seconds(600)))),
        ConfigKey("log", "requests", \.log.requests, .boolean),

        ConfigKey("executor", "workers", \.executor.workers, .integer(1...256)),
        ConfigKey("executor", "queue_capacity", \.executor.queueCapacity, .integer(1...1_000_000)),
        ConfigKey("executor", "task_timeout", \.executor.taskTimeout, .duration(.milliseconds(10)...(.seconds(600)))),
        ConfigKey("executor", "drain_timeout", \.executor.drainTimeout, .duration(.zero...(.seconds(600)))),
        ConfigKey("executor", "lease_timeout", \.executor.leaseTimeout, .duration(.seconds(1)...(.seconds(3600)))),
        ConfigKey("executor", "poll_interval", \.executor.pollInterval, .duration(.milliseconds(10)...(.seconds(60)))),
        ConfigKey("executor", "retry_backoff", \.executor.retryBackoff, .duration(.milliseconds(10)...(.seconds(3600)))),
        ConfigKey("executor", "retry_backoff_max", \.executor.retryBackoffMax, .duration(.milliseconds(10)...(.seconds(86_400)))),

        ConfigKey("outbox", "retention", \.outbox.retention, .duration(.zero...(.seconds(365 * 86_400))), reload: .restart),

        ConfigKey("task.sms", "driver", \.sms.driver, .enumeration),
        ConfigKey("task.sms", "gateway_url", \.sms.gatewayURL, .httpURL),
        ConfigKey("task.sms", "timeout", \.sms.timeout, .optionalDuration(taskTimeouts)),
        ConfigKey("task.sms", "max_attempts", \.sms.maxAttempts, .integer(1...100)),
        ConfigKey("task.sms", "max_age", \.sms.maxAge, .duration(.seconds(1)...(.seconds(30 * 86_400)))),
        ConfigKey("task.sms", "auth_header_file", \.sms.authHeaderFile, .secretFile),
        ConfigKey("task.sms", "per_recipient", \.sms.perRecipient, .recipientLimit(count: 1...10_000, window: recipientWindows)),

        ConfigKey("task.webhook", "url", \.webhook.url, .httpURL),
        ConfigKey("task.webhook", "timeout", \.webhook.timeout, .optionalDuration(taskTimeouts)),
        ConfigKey("task.webhook", "max_attempts", \.webhook.maxAttempts, .integer(1...100)),
        ConfigKey("task.webhook", "max_age", \.webhook.maxAge, .duration(.seconds(1)...(.seconds(30 * 86_400)))),
        ConfigKey("task.webhook", "secret_file", \.webhook.secretFile, .secretFile),

        ConfigKey("task.audit", "path", \.audit.path, .absolutePath, reload: .restart),
        ConfigKey("task.audit", "timeout", \.audit.timeout, .optionalDuration(taskTimeouts)),
        ConfigKey("task.audit", "max_attempts", \.audit.maxAttempts, .integer(1...100)),
        ConfigKey("task.audit", "max_age", \.audit.maxAge, .duration(.seconds(1)...(.seconds(30 * 86_400)))),

        ConfigKey("task.stats", "enabled", \.stats.enabled, .boolean),
        ConfigKey("task.stats", "timeout", \.stats.timeout, .optionalDuration(taskTimeouts)),
    ]

    static let taskTimeouts: ClosedRange<Duration> = .milliseconds(10)...(.seconds(600))
    /// The windows `task.sms.per_recipient` allows. The store keeps a recipient's row this long after its last
    /// SMS at most (`RecipientLimit.longestWindow`), whatever window is configured now.
    static let recipientWindows: ClosedRange<Duration> = .seconds(1)...RecipientLimit.longestWindow

    /// The largest value the duration key `fullName` (`server.request_timeout`) allows; nil for an unknown key
    /// or one of another type.
    package static func maximumDuration(of fullName: String) -> Duration? {
        keys.first { $0.fullName == fullName }?.durationRange?.upperBound
    }

    /// Section names in table order, each once.
    static func sections(of keys: [ConfigKey]) -> [String] {
        var seen: Set<String> = []
        return keys.map(\.section).filter { seen.insert($0).inserted }
    }
}
