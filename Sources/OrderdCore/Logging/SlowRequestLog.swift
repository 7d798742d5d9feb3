import Logging

/// PHP-FPM's slow log, as one structured line: a request that took at least `log.slow_request` is logged with
/// where its time went, so on-call can tell a slow client (read), a slow disk (commit) and a slow nginx
/// (respond) apart.
struct SlowRequestLog: RequestObserver {
    let threshold: DurationSetting
    let logger: Logger

    func requestFinished(_ record: RequestRecord) {
        let limit = threshold.value
        guard limit > .zero, record.duration >= limit else { return }
        let timings = record.timings
        logger.warning("slow request", metadata: [
            "method": "\(record.method)", "route": "\(record.route)", "status": "\(record.status)",
            "duration_ms": "\(HTTPEdge.milliseconds(record.duration))", "request_id": "\(record.requestID)",
            "read_ms": "\(HTTPEdge.milliseconds(timings.read))", "validate_ms": "\(HTTPEdge.milliseconds(timings.validate))",
            "commit_ms": "\(HTTPEdge.milliseconds(timings.commit))", "respond_ms": "\(HTTPEdge.milliseconds(timings.respond))",
        ])
    }
}
