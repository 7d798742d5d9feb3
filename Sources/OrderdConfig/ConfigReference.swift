import OrderdSupport

/// `orderd check-config --reference`: docs/configuration.md, made from the schema, so the reference cannot
/// drift from what the loader accepts (`ConfigReferenceTests` fails when the committed file differs).
package enum ConfigReference {
    /// What each key does, in a line; the schema says the rest (type, accepted values, default).
    static let summaries: [String: String] = [
        "server.listen": "Socket orderd creates when none is handed over (systemd, spawn-fcgi): an absolute unix socket path, or `address:port` for TCP.",
        "server.listen_mode": "Mode of the unix socket orderd creates; who may connect (nginx's group) is who may send orders.",
        "server.listen_group": "Group of the unix socket orderd creates, e.g. `www-data`; empty: the process's own.",
        "server.listen_backlog": "Listen queue: connections waiting for a request thread.",
        "server.request_workers": "Request threads: requests handled at once. An order waiting for its SQLite commit holds none (PostgreSQL: one each until its commit). auto: one per CPU, at least 2, with SQLite; 16 with PostgreSQL.",
        "server.request_timeout": "Longest a request may take, reading its body included; nginx's timeouts sit above it. Also how long a new connection may stay silent before orderd closes it.",
        "server.max_body_bytes": "Largest request body; keep it equal to nginx's `client_max_body_size`.",
        "server.allow_from": "TCP listens only: peer addresses or CIDR blocks served; others are closed unanswered and counted. Empty: every peer.",
        "store.driver": "Storage engine: an embedded SQLite file, or a PostgreSQL database several instances share.",
        "store.path": "SQLite database file (WAL mode).",
        "store.synchronous": "SQLite: `full` fsyncs every commit (an acknowledged order survives a power cut); `normal` may lose the last commits.",
        "store.busy_timeout": "Longest wait for the store to take an order up before a 503.",
        "store.url": "PostgreSQL: `postgres://user@host[:port]/database[?sslmode=…&sslrootcert=…]`, never a password.",
        "store.password_file": "PostgreSQL password: a file or `credential:<name>`; empty: `$PGPASSWORD`, else none.",
        "store.pool_size": "PostgreSQL: most connections this process opens.",
        "store.connect_timeout": "PostgreSQL: longest wait for a new connection.",
        "store.synchronous_commit": "PostgreSQL: the `synchronous_commit` every connection sets and start-up checks.",
        "auth.keys_file": "API keys, one per line (id, SHA-256 of the secret, scopes, note), mode 0600; re-read at every reload.",
        "auth.orders_per_minute": "POST /orders per API key and minute, a token bucket that allows a minute's worth at once; `0`: no limit.",
        "orders.idempotency_ttl": "How long an `Idempotency-Key` is remembered: a retry within it answers the first 201.",
        "log.level": "Least severe level logged.",
        "log.format": "Log line format on stderr (the journal).",
        "log.slow_request": "Requests at least this slow are logged with their phases; `0ms`: off.",
        "log.requests": "One line per request; off by default, as nginx's access log has them (with the request id and key id).",
        "executor.workers": "Follow-up tasks running at once.",
        "executor.queue_capacity": "Tasks waiting in memory; more wait in the outbox.",
        "executor.task_timeout": "Deadline of an attempt whose kind sets no `timeout`.",
        "executor.drain_timeout": "At a stop, how long tasks may go on before the rest is left pending in the outbox.",
        "executor.lease_timeout": "A claim on a task lasts this long unless renewed; a crashed process's tasks resume after it.",
        "executor.poll_interval": "How often the outbox is read for due retries and unclaimed tasks.",
        "executor.retry_backoff": "Delay before the first retry, doubled per attempt, with jitter.",
        "executor.retry_backoff_max": "Longest delay between two attempts.",
        "outbox.retention": "Done tasks are deleted this long after they finished; `0s` keeps them. Dead tasks stay until retried or purged.",
        "task.sms.driver": "`http` posts each SMS to the gateway; `log` only logs it (local runs).",
        "task.sms.gateway_url": "The SMS gateway's endpoint; required with `driver = http`. Query values are masked wherever it is shown.",
        "task.sms.timeout": "Deadline of one attempt, connect included; empty: `executor.task_timeout`.",
        "task.sms.max_attempts": "Attempts before the task is dead.",
        "task.sms.max_age": "No attempt later than this after the order.",
        "task.sms.auth_header_file": "One header line (`Authorization: Bearer …`) sent on every gateway request; re-read at every reload.",
        "task.sms.per_recipient": "SMS per phone number within a window, counted in the store (across instances); over it the SMS task dies `throttled`.",
        "task.webhook.url": "Where each new order is posted; empty: no webhook.",
        "task.webhook.timeout": "Deadline of one attempt; empty: `executor.task_timeout`.",
        "task.webhook.max_attempts": "Attempts before the task is dead.",
        "task.webhook.max_age": "No attempt later than this after the order.",
        "task.webhook.secret_file": "The secret that signs every webhook (`X-Orderd-Signature`); required with a URL; re-read at every reload.",
        "task.audit.path": "The audit file: one JSON line per order, fsynced; reopened at every reload (logrotate).",
        "task.audit.timeout": "Deadline of one attempt; empty: `executor.task_timeout`.",
        "task.audit.max_attempts": "Attempts before the task is dead.",
        "task.audit.max_age": "No attempt later than this after the order.",
        "task.stats.enabled": "Count orders and revenue per minute for `GET /stats` (in memory, best-effort).",
        "task.stats.timeout": "Deadline of the count; empty: `executor.task_timeout`.",
    ]

    /// The Markdown of docs/configuration.md.
    package static func markdown() -> String {
        var text = """
            # Configuration reference

            Generated by `orderd check-config --reference` from the configuration schema: every key orderd reads,
            its accepted values and default. Do not edit; `ConfigReferenceTests` fails when this file and the
            schema differ. The commented example, `config/orderd.ini`, explains the keys at length.

            One INI file, `--config PATH` (default `/etc/orderd/orderd.ini`). `orderd check-config` validates it
            and prints the effective values, secrets masked. A bad file stops the start with one line per problem
            naming the file, line, key, value and what was expected. **Reload** (SIGHUP, `systemctl reload
            orderd`) takes the keys marked *live*; a changed *restart* key is reported and keeps its running value.
            Durations take a unit (`250ms`, `30s`, `10m`, `24h`, `7d`); sizes are bytes or `k`/`m`/`g` (1k = 1024).


            """
        for section in ConfigSchema.sections(of: ConfigSchema.keys) {
            text += "## [\(section)]\n\n| key | accepts | default | on reload | what |\n|---|---|---|---|---|\n"
            for key in ConfigSchema.keys where key.section == section {
                let defaultText = key.defaultText.isEmpty ? "(empty)" : "`\(key.defaultText)`"
                let reload = key.reload == .restart ? "restart" : "live"
                let what = summaries[key.fullName] ?? ""
                text += "| `\(key.name)` | \(escaped(key.expected)) | \(defaultText) | \(reload) | \(escaped(what)) |\n"
            }
            text += "\n"
        }
        return text
    }

    private static func escaped(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
}
