import OrderdSupport

/// The whole effective configuration of one orderd process, as read from the INI file.
///
/// Every property documents its INI key, type, default and range in one line; `config/orderd.ini`
/// is the commented example ops copy from.
package struct OrderdConfiguration: Sendable, Equatable {
    /// `[server]`: how orderd listens and serves FastCGI requests.
    package var server = Server()
    /// `[store]`: where orders are kept.
    package var store = Store()
    /// `[auth]`: the API keys requests must carry.
    package var auth = Auth()
    /// `[orders]`: order-handling policy.
    package var orders = Orders()
    /// `[log]`: what is logged and how.
    package var log = Log()
    /// `[executor]`: the bounded executor that runs follow-up work after each response.
    package var executor = Executor()
    /// `[outbox]`: how long finished durable tasks are kept.
    package var outbox = Outbox()
    /// `[task.sms]`: the SMS to the buyer (durable).
    package var sms = SMS()
    /// `[task.webhook]`: the order posted to a URL of the shop's (durable, off unless a URL is set).
    package var webhook = Webhook()
    /// `[task.audit]`: one JSON line per order in an audit file (durable).
    package var audit = Audit()
    /// `[task.stats]`: orders and revenue per minute and currency for `GET /stats` (best-effort).
    package var stats = Stats()

    package init() {}

    package struct Server: Sendable, Equatable {
        /// `server.listen` (string): absolute unix socket path, or IP `address:port` (`[v6]:port`); default `/run/orderd/orderd.sock`.
        package var listen: ListenAddress = .unix(path: "/run/orderd/orderd.sock")
        /// `server.listen_mode` (octal): mode of a unix socket orderd creates itself; default `0660`, 0000–0777.
        package var listenMode: UInt32 = 0o660
        /// `server.listen_group` (string): group of a unix socket orderd creates itself; default empty (the process's group).
        package var listenGroup: String = ""
        /// `server.listen_backlog` (integer): listen queue length; default 1024, 16–65535.
        package var listenBacklog: Int = 1024
        /// `server.request_workers` (integer or `auto`): request threads, i.e. requests handled at once (an order
        /// waiting for its SQLite commit holds none); default `auto` (nil, see `requestThreads`), 1–256.
        package var requestWorkers: Int? = nil
        /// `server.request_timeout` (duration): longest a request may take, body read included; default `30s`, 100ms–10m.
        package var requestTimeout: Duration = .seconds(30)
        /// `server.max_body_bytes` (size): largest accepted request body; default `64k`, 1k–16m.
        package var maxBodyBytes: Int = 64 * 1024
        /// `server.allow_from` (addresses/CIDRs, comma or blank separated): peers a TCP listen serves, others are
        /// closed unanswered; default empty (every peer; a unix socket is guarded by its mode and group). Live on reload.
        package var allowFrom = AllowedPeers()

        package init() {}
    }

    package struct Store: Sendable, Equatable {
        package enum Driver: String, Sendable, Equatable, CaseIterable { case sqlite, postgres }
        package enum Synchronous: String, Sendable, Equatable, CaseIterable { case full, normal }
        /// PostgreSQL's own `synchronous_commit` values.
        package enum SynchronousCommit: String, Sendable, Equatable, CaseIterable {
            case on, remoteApply = "remote_apply", remoteWrite = "remote_write", local, off
        }
        /// `store.driver` (enum sqlite|postgres): storage engine; default `sqlite`.
        package var driver: Driver = .sqlite
        /// `store.path` (path): SQLite database file; default `/var/lib/orderd/orderd.db`.
        package var path: String = "/var/lib/orderd/orderd.db"
        /// `store.synchronous` (enum full|normal): `full` fsyncs every commit; default `full`. SQLite only.
        package var synchronous: Synchronous = .full
        /// `store.busy_timeout` (duration): longest wait for the database; default `5s`, 10ms–1m.
        package var busyTimeout: Duration = .seconds(5)
        /// `store.url` (postgres URL): `postgres://user@host[:port]/database[?sslmode=…&sslrootcert=/ca.pem&host=/socket/dir]`,
        /// no password in it; required with driver postgres. sslmode defaults to `verify-full` with sslrootcert, else `prefer`.
        package var url: String = ""
        /// `store.password_file` (path): a file holding the PostgreSQL password; empty: `$PGPASSWORD`, else none.
        package var passwordFile: String = ""
        /// `store.pool_size` (integer): most PostgreSQL connections of this process; default 20, 1–1000.
        package var poolSize: Int = 20
        /// `store.connect_timeout` (duration): longest wait for a new PostgreSQL connection; default `5s`.
        package var connectTimeout: Duration = .seconds(5)
        /// `store.synchronous_commit` (enum on|remote_apply|remote_write|local|off): the `synchronous_commit` every
        /// PostgreSQL connection sets and orderd checks at start; default `on` (a 201 means flushed to disk, and to
        /// the synchronous standbys if the server has any).
        package var synchronousCommit: SynchronousCommit = .on

        package init() {}
    }

    package struct Auth: Sendable, Equatable {
        /// `auth.keys_file` (path or `credential:<name>`): the API keys, one per line (id, SHA-256 of the secret,
        /// scopes, note), mode 0600; re-read on SIGHUP; required; default `credential:api-keys`, what the shipped
        /// unit's `LoadCredential=api-keys:/etc/orderd/api-keys` provides.
        package var keysFile: String = "credential:api-keys"
        /// `auth.orders_per_minute` (integer): `POST /orders` per API key and minute (a token bucket; bursts up to a
        /// minute's worth); `0` turns it off; default 600, 0–1000000.
        package var ordersPerMinute: Int = 600

        package init() {}
    }

    package struct Orders: Sendable, Equatable {
        /// `orders.idempotency_ttl` (duration): how long an `Idempotency-Key` is remembered; default `24h`, 1m–30d.
        package var idempotencyTTL: Duration = .seconds(24 * 3600)

        package init() {}
    }

    package struct Log: Sendable, Equatable {
        package enum Level: String, Sendable, Equatable, CaseIterable {
            case trace, debug, info, notice, warning, error, critical
        }
        package enum Format: String, Sendable, Equatable, CaseIterable { case logfmt, json }
        /// `log.level` (enum trace|debug|info|notice|warning|error|critical): default `info`.
        package var level: Level = .info
        /// `log.format` (enum logfmt|json): default `logfmt`.
        package var format: Format = .logfmt
        /// `log.slow_request` (duration): requests at least this slow are logged with their phases; `0ms` turns it off; default `1s`, 0ms–10m.
        package var slowRequest: Duration = .seconds(1)
        /// `log.requests` (boolean): one info line per request; default `false`: nginx's access log has every
        /// request (with its id and API key id), and at hundreds of requests a second these lines would use up
        /// journald's rate limit and take the errors down with them.
        package var requests: Bool = false

        package init() {}
    }
}

extension OrderdConfiguration {
    /// The request threads to start: `server.request_workers`, or for `auto` what each store needs.
    /// - SQLite: one per CPU orderd may run on, at least 2. A request thread does CPU work only: an order waiting
    ///   for its commit is handed over to the writer, and nginx buffers request bodies, so more threads than CPUs
    ///   only take turns (measured on 2 CPUs, POST /orders at 64 connections: 2 threads 0.75× the CPU per order of
    ///   16 and 1.22× the orders/s).
    /// - PostgreSQL: 16. Each order holds its thread until its commit comes back from the server.
    package func requestThreads(cpus: Int = AvailableCPUs.count) -> Int {
        if let count = server.requestWorkers { return count }
        switch store.driver {
        case .sqlite: return min(256, max(2, cpus))
        case .postgres: return 16
        }
    }
}

extension OrderdConfiguration {
    package struct Executor: Sendable, Equatable {
        /// `executor.workers` (integer): follow-up tasks running at once; default 5, 1–256.
        package var workers: Int = 5
        /// `executor.queue_capacity` (integer): tasks waiting in memory; more wait in the outbox; default 1024, 1–1000000.
        package var queueCapacity: Int = 1024
        /// `executor.task_timeout` (duration): deadline of a task whose kind sets none; default `10s`, 10ms–10m.
        package var taskTimeout: Duration = .seconds(10)
        /// `executor.drain_timeout` (duration): how long running and queued tasks may go on at a stop; default `10s`, 0ms–10m.
        package var drainTimeout: Duration = .seconds(10)
        /// `executor.lease_timeout` (duration): how long a claim on a task lasts unless renewed; default `60s`, 1s–1h.
        package var leaseTimeout: Duration = .seconds(60)
        /// `executor.poll_interval` (duration): how often the outbox is read for due retries and tasks nobody runs; default `1s`, 10ms–1m.
        package var pollInterval: Duration = .seconds(1)
        /// `executor.retry_backoff` (duration): delay before the first retry, doubled each time, with jitter; default `1s`, 10ms–1h.
        package var retryBackoff: Duration = .seconds(1)
        /// `executor.retry_backoff_max` (duration): longest delay between two attempts; default `10m`, 10ms–1d.
        package var retryBackoffMax: Duration = .seconds(600)

        package init() {}
    }

    package struct Outbox: Sendable, Equatable {
        /// `outbox.retention` (duration): done tasks are deleted this long after they finished, in small batches
        /// in the background; `0s` keeps them forever. Dead tasks stay until `orderd tasks retry` or
        /// `orderd tasks purge --dead`. Default `7d`, 0s–365d.
        package var retention: Duration = .seconds(7 * 86_400)

        package init() {}
    }

    package struct SMS: Sendable, Equatable {
        package enum Driver: String, Sendable, Equatable, CaseIterable { case http, log }
        /// `task.sms.driver` (enum http|log): `http` posts to the gateway, `log` only logs (local runs); default `log`.
        package var driver: Driver = .log
        /// `task.sms.gateway_url` (URL): the SMS gateway's endpoint; required with driver http; default empty.
        package var gatewayURL: String = ""
        /// `task.sms.timeout` (duration): deadline of one attempt, connect included; default empty (`executor.task_timeout`).
        package var timeout: Duration? = nil
        /// `task.sms.max_attempts` (integer): attempts before the task is dead; default 5, 1–100.
        package var maxAttempts: Int = 5
        /// `task.sms.max_age` (duration): after this long since the order, no more attempts; default `1h`, 1s–30d.
        package var maxAge: Duration = .seconds(3600)
        /// `task.sms.auth_header_file` (path or `credential:<name>`): a file holding one header line sent with every gateway request, such as `Authorization: Bearer …`; re-read on reload; default empty (none).
        package var authHeaderFile: String = ""
        /// `task.sms.per_recipient` (count/duration, or `off`): most SMS tasks to one phone number within any such window, counted in the store across instances; over it the task ends dead, `throttled`; default `5/1h`, 1–10000 per 1s–30d.
        package var perRecipient: RecipientLimit? = RecipientLimit(count: 5, window: .seconds(3600))

        package init() {}
    }

    package struct Webhook: Sendable, Equatable {
        /// `task.webhook.url` (URL): where each new order is posted; empty means no webhook; default empty.
        package var url: String = ""
        /// `task.webhook.timeout` (duration): deadline of one attempt; default empty (`executor.task_timeout`).
        package var timeout: Duration? = nil
        /// `task.webhook.max_attempts` (integer): default 10, 1–100.
        package var maxAttempts: Int = 10
        /// `task.webhook.max_age` (duration): default `24h`, 1s–30d.
        package var maxAge: Duration = .seconds(86_400)
        /// `task.webhook.secret_file` (path or `credential:<name>`): the HMAC-SHA256 key of `X-Orderd-Signature`, at least 16 bytes; required with a `url`; re-read on reload; default empty.
        package var secretFile: String = ""

        package init() {}
    }

    package struct Audit: Sendable, Equatable {
        /// `task.audit.path` (path): the audit file, one JSON line per order, fsynced; default `/var/lib/orderd/audit.log`.
        package var path: String = "/var/lib/orderd/audit.log"
        /// `task.audit.timeout` (duration): default empty (`executor.task_timeout`).
        package var timeout: Duration? = nil
        /// `task.audit.max_attempts` (integer): default 20, 1–100.
        package var maxAttempts: Int = 20
        /// `task.audit.max_age` (duration): default `7d`, 1s–30d.
        package var maxAge: Duration = .seconds(7 * 86_400)

        package init() {}
    }

    package struct Stats: Sendable, Equatable {
        /// `task.stats.enabled` (boolean): count orders and revenue for `GET /stats`; default `true`.
        package var enabled: Bool = true
        /// `task.stats.timeout` (duration): default empty (`executor.task_timeout`).
        package var timeout: Duration? = nil

        package init() {}
    }
}

/// `task.sms.per_recipient`: at most `count` SMS tasks to one phone number within any `window` (a sliding
/// window: the `count` most recent sends are remembered, not a counter reset on the hour).
package struct RecipientLimit: Sendable, Equatable {
    package var count: Int
    package var window: Duration

    /// The longest window the key accepts; the store forgets a recipient this long after its last SMS.
    package static let longestWindow: Duration = .seconds(30 * 86_400)

    package init(count: Int, window: Duration) {
        self.count = count
        self.window = window
    }
}

/// Where orderd listens when no socket is handed over by systemd or spawn-fcgi.
///
/// `description` is the INI form: the path, `host:port`, or `[v6addr]:port` for an IPv6 host.
package enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: Int)

    package var description: String {
        switch self {
        case .unix(let path): return path
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}
