/// `GET /status`: what is running and how the follow-up work stands, as JSON (nginx serves it to localhost
/// only). Counters are since this process started; the outbox figures are read from the store.
struct StatusPage: Sendable {
    let followUps: FollowUps
    let configuration: RunningConfiguration
    let startedAtMillis: Int64
    let wallClock: @Sendable () -> Int64

    func json() -> [UInt8] {
        let now = wallClock()
        let executor = followUps.executor.statistics
        let counters = followUps.statistics
        let outbox = try? followUps.outbox.counts()
        var json = JSONWriter(capacity: 1024)
        json.beginObject()
        json.key("version")
        json.string(OrderdVersion.current)
        json.key("started_at")
        json.timestamp(millis: startedAtMillis)
        json.key("uptime_seconds")
        json.integer((now - startedAtMillis) / 1000)
        let (running, loadedAt) = configuration.current
        json.key("config")
        json.beginObject()
        json.key("path")
        json.string(configuration.path)
        json.key("digest")
        json.string(running.digest)
        json.key("loaded_at")
        json.timestamp(millis: loadedAt)
        json.key("log_level")
        json.string(running.log.level.rawValue)
        json.key("log_format")
        json.string(running.log.format.rawValue)
        json.endObject()
        json.key("executor")
        json.beginObject()
        for (name, value) in [
            ("workers", executor.workers), ("queue_capacity", executor.queueCapacity), ("running", executor.running),
            ("queued", executor.queued), ("idle_workers", executor.idleWorkers), ("submitted", executor.submitted),
            ("rejected", executor.rejected), ("completed", executor.completed), ("failed", executor.failed),
            ("timed_out", executor.timedOut), ("stuck", executor.stuck), ("abandoned_workers", executor.abandonedWorkers),
        ] {
            json.key(name)
            json.integer(value)
        }
        json.endObject()
        json.key("tasks")
        json.beginObject()
        for (name, value) in [
            ("done", counters.done), ("retried", counters.retried), ("dead", counters.dead),
            ("timed_out", counters.timedOut), ("stuck", counters.stuck), ("overflowed_to_outbox", counters.overflowed),
            ("best_effort_done", counters.bestEffortDone),
        ] {
            json.key(name)
            json.integer(value)
        }
        json.key("dropped")
        json.beginObject()
        for kind in TaskKind.allCases where !kind.isDurable {
            json.key(kind.rawValue)
            json.integer(counters.dropped[kind] ?? 0)
        }
        json.endObject()
        json.endObject()
        json.key("outbox")
        if let outbox {
            json.beginObject()
            json.key("pending")
            json.integer(outbox.pending)
            json.key("dead")
            json.integer(outbox.dead)
            json.key("oldest_pending_age_seconds")
            if let oldest = outbox.oldestPendingMillis { json.integer(max(0, now - oldest) / 1000) } else { json.null() }
            json.endObject()
        } else {
            json.null()
        }
        json.endObject()
        return json.bytes
    }
}
