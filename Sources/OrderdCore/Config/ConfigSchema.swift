/// One INI key: where it lives, how its text becomes a value in `OrderdConfiguration`, and how
/// the effective value is written back. Loading, error messages and `renderINI()` all read it.
struct ConfigKey: Sendable {
    let section: String
    let name: String
    /// Completes "expected ...", e.g. `an integer from 1 to 256`.
    let expected: String
    /// Secret values are never echoed: masked when rendered, left out of error messages.
    let isSecret: Bool
    /// Parses `text` into the configuration; `false` if the text is invalid or out of range.
    let assign: @Sendable (_ text: String, _ configuration: inout OrderdConfiguration) -> Bool
    /// The key's effective value as INI text, unquoted.
    let render: @Sendable (OrderdConfiguration) -> String

    /// `section.name`, as used in messages.
    var fullName: String { "\(section).\(name)" }
    /// The default value as INI text.
    var defaultText: String { render(OrderdConfiguration()) }

    init<Value>(_ section: String, _ name: String,
                _ keyPath: WritableKeyPath<OrderdConfiguration, Value> & Sendable,
                _ type: ConfigValueType<Value>, secret: Bool = false) {
        self.section = section
        self.name = name
        self.expected = type.expected
        self.isSecret = secret
        self.assign = { text, configuration in
            guard let value = type.parse(text) else { return false }
            configuration[keyPath: keyPath] = value
            return true
        }
        self.render = { type.format($0[keyPath: keyPath]) }
    }
}

/// The table of every key orderd reads. Adding a key is one entry here (plus its property in
/// `OrderdConfiguration` and its documentation in `config/orderd.ini`).
enum ConfigSchema {
    static let keys: [ConfigKey] = [
        ConfigKey("server", "listen", \.server.listen, .listenAddress),
        ConfigKey("server", "listen_mode", \.server.listenMode, .octalMode(0...0o777)),
        ConfigKey("server", "listen_group", \.server.listenGroup, .groupName),
        ConfigKey("server", "listen_backlog", \.server.listenBacklog, .integer(16...65535)),
        ConfigKey("server", "request_workers", \.server.requestWorkers, .integer(1...256)),
        ConfigKey("server", "request_timeout", \.server.requestTimeout, .duration(.milliseconds(100)...(.seconds(600)))),
        ConfigKey("server", "max_body_bytes", \.server.maxBodyBytes, .size(1024...(16 << 20))),

        ConfigKey("store", "driver", \.store.driver, .enumeration),
        ConfigKey("store", "path", \.store.path, .absolutePath),
        ConfigKey("store", "synchronous", \.store.synchronous, .enumeration),
        ConfigKey("store", "busy_timeout", \.store.busyTimeout, .duration(.milliseconds(10)...(.seconds(60)))),

        ConfigKey("orders", "idempotency_ttl", \.orders.idempotencyTTL, .duration(.seconds(60)...(.seconds(30 * 86_400)))),

        ConfigKey("log", "level", \.log.level, .enumeration),
        ConfigKey("log", "format", \.log.format, .enumeration),
    ]

    /// Section names in table order, each once.
    static func sections(of keys: [ConfigKey]) -> [String] {
        var seen: Set<String> = []
        return keys.map(\.section).filter { seen.insert($0).inserted }
    }
}
