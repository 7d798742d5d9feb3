import OrderdFollowUps
import OrderdHTTP
import OrderdSupport

/// `GET /status`: what is running and how the follow-up work stands, as JSON, or with `?html` (`html=1`, as
/// PHP-FPM's status page) as a page a person reads (nginx serves both to localhost only). Counters are since
/// this process started; the outbox figures are read from the store; `history` holds the sampler's last
/// minutes.
package struct StatusPage: Sendable {
    let followUps: FollowUps
    let configuration: RunningConfiguration
    let sampler: StatusSampler
    let startedAtMillis: Int64
    let wallClock: @Sendable () -> Int64

    /// JSON, or the HTML page when the query asks for it.
    package func response(to request: HTTPRequest) -> HTTPResponse {
        let snapshot = snapshot()
        guard Self.wantsHTML(query: request.query) else {
            return .json(200, json(snapshot), headers: [("Cache-Control", "no-store")])
        }
        return HTTPResponse(
            status: 200,
            headers: [
                ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                // The page is self-contained: inline CSS and SVG, no script, nothing fetched.
                ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"),
                ("X-Content-Type-Options", "nosniff"),
            ],
            body: Self.html(snapshot))
    }

    /// True for `html` or `html=1` among the query's `&`-separated items (`html=0` and the rest: JSON).
    static func wantsHTML(query: String) -> Bool {
        query.split(separator: "&").contains { $0 == "html" || $0 == "html=1" || $0 == "html=" }
    }

    func snapshot() -> StatusSnapshot {
        let (running, loadedAt) = configuration.current
        let followUps = followUps.snapshot(withOutbox: true, includingDone: true)
        return StatusSnapshot(
            version: OrderdVersion.current, nowMillis: wallClock(), startedAtMillis: startedAtMillis,
            configPath: configuration.path, configDigest: running.digest, configLoadedAtMillis: loadedAt,
            logLevel: running.log.level.rawValue, logFormat: running.log.format.rawValue,
            requestWorkers: running.requestThreads(), requests: sampler.requests.counts,
            executor: followUps.executor, tasks: followUps.tasks, outbox: try? followUps.outbox?.get(),
            unhandledKinds: followUps.unhandledKinds.map(\.rawValue),
            history: sampler.samples, sampleInterval: sampler.interval, historyCapacity: sampler.capacity)
    }

    func json() -> [UInt8] { json(snapshot()) }

    func json(_ status: StatusSnapshot) -> [UInt8] {
        var json = JSONWriter(capacity: 1024 + 160 * status.history.count)
        json.beginObject()
        json.key("version")
        json.string(status.version)
        json.key("started_at")
        json.timestamp(millis: status.startedAtMillis)
        json.key("uptime_seconds")
        json.integer(status.uptimeSeconds)
        json.key("config")
        json.beginObject()
        json.key("path")
        json.string(status.configPath)
        json.key("digest")
        json.string(status.configDigest)
        json.key("loaded_at")
        json.timestamp(millis: status.configLoadedAtMillis)
        json.key("log_level")
        json.string(status.logLevel)
        json.key("log_format")
        json.string(status.logFormat)
        json.endObject()
        json.key("executor")
        Self.integers(status.executorFields, into: &json)
        json.key("tasks")
        json.beginObject()
        for (name, value) in status.taskFields {
            json.key(name)
            json.integer(value)
        }
        json.key("dropped")
        Self.integers(status.droppedFields, into: &json)
        json.endObject()
        json.key("outbox")
        if let outbox = status.outbox {
            json.beginObject()
            json.key("pending")
            json.integer(outbox.pending)
            json.key("done")
            if let done = outbox.done { json.integer(done) } else { json.null() }
            json.key("dead")
            json.integer(outbox.dead)
            json.key("pending_by_kind")
            Self.integers(outbox.pendingByKind.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, into: &json)
            json.key("unhandled_kinds")
            json.beginArray()
            for kind in status.unhandledKinds { json.string(kind) }
            json.endArray()
            json.key("oldest_pending_age_seconds")
            if let age = status.oldestPendingAgeSeconds { json.integer(age) } else { json.null() }
            json.endObject()
        } else {
            json.null()
        }
        json.key("requests")
        Self.integers(status.requestFields, into: &json)
        json.key("history")
        json.beginArray()
        for sample in status.history {
            json.beginObject()
            json.key("at")
            json.timestamp(millis: sample.atMillis)
            json.key("orders_created")
            json.integer(sample.ordersCreated)
            json.key("orders_per_second")
            if let rate = sample.ordersPerSecond {
                json.number(JSONNumber(text: StatusFormat.decimal(rate, places: 2), isIntegerLiteral: false, int64: nil))
            } else {
                json.null()
            }
            json.key("executor_queued")
            json.integer(sample.executorQueued)
            json.key("outbox_pending")
            if let pending = sample.outboxPending { json.integer(pending) } else { json.null() }
            json.key("oldest_pending_age_seconds")
            if let age = sample.oldestPendingAgeSeconds { json.integer(age) } else { json.null() }
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    private static func integers(_ fields: [(name: String, value: Int)], into json: inout JSONWriter) {
        json.beginObject()
        for (name, value) in fields {
            json.key(name)
            json.integer(value)
        }
        json.endObject()
    }

    package init(followUps: FollowUps, configuration: RunningConfiguration, sampler: StatusSampler, startedAtMillis: Int64, wallClock: @escaping @Sendable () -> Int64) {
        self.followUps = followUps
        self.configuration = configuration
        self.sampler = sampler
        self.startedAtMillis = startedAtMillis
        self.wallClock = wallClock
    }
}
