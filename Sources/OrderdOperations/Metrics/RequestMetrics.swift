import OrderdHTTP
import OrderdSupport
import Prometheus

/// Requests as the HTTP edge finished them: a real counter by method, route and status, and a latency
/// histogram by route, both incremented on the request thread the moment the answer was written.
///
/// Labels stay few: the route is the router's pattern (`/orders/{id}`) or `unmatched`, and a method orderd
/// does not know is counted as `other`, so a client cannot mint new series.
package final class RequestMetrics: RequestObserver {
    private struct SeriesKey: Hashable {
        var method: String
        var route: String
        var status: Int
    }

    private struct Series {
        var counters: [SeriesKey: Counter] = [:]
        var latencies: [String: DurationHistogram] = [:]
    }

    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    /// From a GET answered from a cached statement (well under 1 ms) to `server.request_timeout` (30 s).
    static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    private let registry: PrometheusCollectorRegistry
    // The registry finds a labelled series under its one lock, hashing every label; this cache does it once
    // per series, and its lock is held for one dictionary lookup per request: a pthread mutex, not a
    // `Synchronization.Mutex`, as every request thread takes it (see PThreadLocked).
    private let series = PThreadLocked(Series())

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    package func requestFinished(_ record: RequestRecord) {
        let key = SeriesKey(
            method: Self.knownMethods.contains(record.method) ? record.method : "other", route: record.route,
            status: record.status)
        let (counter, latency) = series.withLock { series in
            (series.counters[key], series.latencies[key.route])
        }
        (counter ?? makeCounter(key)).increment()
        (latency ?? makeLatency(key.route)).record(record.duration)
    }

    private func makeCounter(_ key: SeriesKey) -> Counter {
        let counter = registry.makeCounter(
            descriptor: .orderd(
                "http_requests", unit: "total",
                help: "Requests answered by orderd, by method, route (the router's pattern, or unmatched) and status."),
            labels: [("method", key.method), ("route", key.route), ("status", String(key.status))])
        // The registry hands out one counter per label set, so a racing thread stores the same one.
        series.withLock { $0.counters[key] = counter }
        return counter
    }

    private func makeLatency(_ route: String) -> DurationHistogram {
        let histogram = registry.makeDurationHistogram(
            descriptor: .orderd(
                "http_request_duration", unit: "seconds",
                help: "Time from the request's arrival at a request thread to its written answer, by route."),
            labels: [("route", route)], buckets: Self.latencyBuckets)
        series.withLock { $0.latencies[route] = histogram }
        return histogram
    }
}
