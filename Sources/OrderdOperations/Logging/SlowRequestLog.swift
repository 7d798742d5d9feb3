import Logging
import OrderdHTTP
import OrderdSupport

/// PHP-FPM's slow log, as one structured line: a request that took at least `log.slow_request` is logged with
/// where its time went, so on-call can tell a slow client (read), a slow disk (commit) and a slow nginx
/// (respond) apart.
package struct SlowRequestLog: RequestObserver {
    let threshold: DurationSetting
    let logger: Logger

    package func requestFinished(_ record: RequestRecord) {
        let limit = threshold.value
        guard limit > .zero, record.duration >= limit else { return }
        let timings = record.timings
        logger.warning("slow request", metadata: [
            "method": "\(record.method)", "route": "\(record.route)", "status": "\(record.status)",
            "duration_ms": "\(record.duration.millisecondsText)", "request_id": "\(record.requestID)",
            "read_ms": "\(timings.read.millisecondsText)", "validate_ms": "\(timings.validate.millisecondsText)",
            "commit_ms": "\(timings.commit.millisecondsText)", "respond_ms": "\(timings.respond.millisecondsText)",
        ])
    }

    package init(threshold: DurationSetting, logger: Logger) {
        self.threshold = threshold
        self.logger = logger
    }
}
