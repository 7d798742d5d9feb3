/// The whole effective configuration of one orderd process, as read from the INI file.
///
/// Every property documents its INI key, type, default and range in one line; `config/orderd.ini`
/// is the commented example ops copy from.
public struct OrderdConfiguration: Sendable, Equatable {
    /// `[server]`: how orderd listens and serves FastCGI requests.
    public var server = Server()
    /// `[store]`: where orders are kept.
    public var store = Store()
    /// `[orders]`: order-handling policy.
    public var orders = Orders()
    /// `[log]`: what is logged and how.
    public var log = Log()

    public init() {}

    public struct Server: Sendable, Equatable {
        /// `server.listen` (string): absolute unix socket path, or IP `address:port` (`[v6]:port`); default `/run/orderd/orderd.sock`.
        public var listen: ListenAddress = .unix(path: "/run/orderd/orderd.sock")
        /// `server.listen_mode` (octal): mode of a unix socket orderd creates itself; default `0660`, 0000–0777.
        public var listenMode: UInt32 = 0o660
        /// `server.listen_group` (string): group of a unix socket orderd creates itself; default empty (the process's group).
        public var listenGroup: String = ""
        /// `server.listen_backlog` (integer): listen queue length; default 1024, 16–65535.
        public var listenBacklog: Int = 1024
        /// `server.request_workers` (integer): request threads, i.e. requests in flight and the largest group commit; default 16, 1–256.
        public var requestWorkers: Int = 16
        /// `server.request_timeout` (duration): longest a request may take, body read included; default `30s`, 100ms–10m.
        public var requestTimeout: Duration = .seconds(30)
        /// `server.max_body_bytes` (size): largest accepted request body; default `64k`, 1k–16m.
        public var maxBodyBytes: Int = 64 * 1024

        public init() {}
    }

    public struct Store: Sendable, Equatable {
        public enum Driver: String, Sendable, Equatable, CaseIterable { case sqlite }
        public enum Synchronous: String, Sendable, Equatable, CaseIterable { case full, normal }
        /// `store.driver` (enum sqlite): storage engine; default `sqlite`.
        public var driver: Driver = .sqlite
        /// `store.path` (path): SQLite database file; default `/var/lib/orderd/orderd.db`.
        public var path: String = "/var/lib/orderd/orderd.db"
        /// `store.synchronous` (enum full|normal): `full` fsyncs every commit; default `full`.
        public var synchronous: Synchronous = .full
        /// `store.busy_timeout` (duration): longest wait for the database; default `5s`, 10ms–1m.
        public var busyTimeout: Duration = .seconds(5)

        public init() {}
    }

    public struct Orders: Sendable, Equatable {
        /// `orders.idempotency_ttl` (duration): how long an `Idempotency-Key` is remembered; default `24h`, 1m–30d.
        public var idempotencyTTL: Duration = .seconds(24 * 3600)

        public init() {}
    }

    public struct Log: Sendable, Equatable {
        public enum Level: String, Sendable, Equatable, CaseIterable {
            case trace, debug, info, notice, warning, error, critical
        }
        public enum Format: String, Sendable, Equatable, CaseIterable { case logfmt, json }
        /// `log.level` (enum trace|debug|info|notice|warning|error|critical): default `info`.
        public var level: Level = .info
        /// `log.format` (enum logfmt|json): default `logfmt`.
        public var format: Format = .logfmt

        public init() {}
    }
}

/// Where orderd listens when no socket is handed over by systemd or spawn-fcgi.
///
/// `description` is the INI form: the path, `host:port`, or `[v6addr]:port` for an IPv6 host.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: Int)

    public var description: String {
        switch self {
        case .unix(let path): return path
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}
