import OrderdConfig
import OrderdExecutor
import OrderdSupport

/// `/status?html`: the same numbers as the JSON, grouped, with charts of the last minutes. One self-contained
/// page (inline CSS and SVG, no script, nothing fetched) that reloads itself every 5 s. Every value is
/// HTML-escaped; each figure carries its JSON path in `data-key`.
extension StatusPage {
    /// Counters that mean trouble when they are not 0 (red) and ones worth a look (amber).
    private static let alarming: Set<String> = [
        "executor.stuck", "executor.abandoned_workers", "tasks.dead", "tasks.stuck", "outbox.dead",
        "requests.server_errors",
    ]
    private static let notable: Set<String> = [
        "executor.rejected", "executor.failed", "executor.timed_out", "tasks.retried", "tasks.timed_out",
        "tasks.overflowed_to_outbox",
    ]
    /// An oldest pending task older than this is shown amber.
    private static let oldPendingSeconds: Int64 = 60

    static func html(_ status: StatusSnapshot) -> [UInt8] {
        var page = HTMLPage()
        page.raw("""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="refresh" content="5">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>orderd status</title>
            <style>\(css)</style>
            </head>
            <body>

            """)
        header(status, into: &page)
        page.raw("<main>\n<div class=\"charts\">\n")
        charts(status, into: &page)
        page.raw("</div>\n<div class=\"groups\">\n")

        page.section("process", "Process")
        page.row("version", "version", text: status.version)
        page.row("started at", "started_at", text: StatusFormat.timestamp(millis: status.startedAtMillis))
        page.row("uptime", "uptime_seconds", number: status.uptimeSeconds, note: Self.reading(seconds: status.uptimeSeconds))
        page.endSection()

        page.section("configuration", "Configuration")
        page.row("path", "config.path", text: status.configPath)
        page.row("digest", "config.digest", text: status.configDigest)
        page.row("loaded at", "config.loaded_at", text: StatusFormat.timestamp(millis: status.configLoadedAtMillis))
        page.row("log level", "config.log_level", text: status.logLevel)
        page.row("log format", "config.log_format", text: status.logFormat)
        page.endSection()

        page.section("requests", "Request threads")
        counters(status.requestFields, prefix: "requests", into: &page)
        page.endSection()

        page.section("executor", "Executor")
        counters(status.executorFields, prefix: "executor", into: &page)
        page.endSection()

        page.section("tasks", "Tasks")
        counters(status.taskFields, prefix: "tasks", into: &page)
        for (kind, value) in status.droppedFields {
            page.row("dropped: \(kind)", "tasks.dropped.\(kind)", number: Int64(value), tone: value > 0 ? "notable" : nil)
        }
        page.endSection()

        page.section("outbox", "Outbox")
        if let outbox = status.outbox {
            counters([("pending", outbox.pending), ("done", outbox.done ?? 0), ("dead", outbox.dead)], prefix: "outbox", into: &page)
            if let age = status.oldestPendingAgeSeconds {
                page.row(
                    "oldest pending age", "outbox.oldest_pending_age_seconds", number: age,
                    note: Self.reading(seconds: age), tone: age >= oldPendingSeconds ? "notable" : nil)
            } else {
                page.row("oldest pending age", "outbox.oldest_pending_age_seconds", text: "none pending", tone: "muted")
            }
        } else {
            page.row("store", "outbox", text: "could not be read", tone: "alarming")
        }
        page.endSection()

        let minutes = Int64(status.historyCapacity) * status.sampleInterval.components.seconds / 60
        page.raw("</div>\n</main>\n<footer>")
        page.text(
            "Counters since start; outbox figures read from the store. Charts: one sample every "
                + "\(StatusFormat.duration(seconds: status.sampleInterval.components.seconds)), the last \(minutes) min "
                + "(\(status.history.count) of \(status.historyCapacity) samples); orders counted from 201 answers to "
                + "POST /orders (idempotent replays included). ")
        page.raw("<a href=\"/status\">JSON</a></footer>\n</body>\n</html>\n")
        return page.bytes
    }

    private static func header(_ status: StatusSnapshot, into page: inout HTMLPage) {
        page.raw("<header>\n<h1>orderd <span>status</span></h1>\n<ul class=\"summary\">")
        func pill(_ value: String, _ label: String, tone: String? = nil) {
            page.raw(tone.map { "<li class=\"\($0)\">" } ?? "<li>")
            page.raw("<b>")
            page.text(value)
            page.raw("</b> ")
            page.text(label)
            page.raw("</li>")
        }
        pill(StatusFormat.duration(seconds: status.uptimeSeconds), "up")
        pill("\(status.requests.ordersCreated)", "orders created")
        pill("\(status.executor.running)/\(status.executor.workers)", "tasks running")
        pill("\(status.executor.queued)", "queued")
        if let outbox = status.outbox {
            pill("\(outbox.pending)", "pending")
            pill("\(outbox.dead)", "dead", tone: outbox.dead > 0 ? "alarming" : nil)
        } else {
            pill("outbox", "unreadable", tone: "alarming")
        }
        page.raw("</ul>\n<p class=\"meta\">")
        page.text("v\(status.version) · as of \(StatusFormat.readableTime(millis: status.nowMillis)) · refreshes every 5 s")
        page.raw("</p>\n</header>\n")
    }

    private static func charts(_ status: StatusSnapshot, into page: inout HTMLPage) {
        let window = Double(status.historyCapacity) * Double(status.sampleInterval.components.seconds)
        func ago(_ sample: StatusSample) -> Double { Double(status.nowMillis - sample.atMillis) / 1000 }
        let history = status.history
        let rates = history.compactMap(\.ordersPerSecond)
        let latestRate = history.last?.ordersPerSecond
        chart(
            id: "chart-orders", title: "Orders per second", now: latestRate.map { StatusFormat.decimal($0, places: 1) } ?? "–",
            summary: rates.isEmpty ? "no rate yet" : "max \(StatusFormat.decimal(rates.max()!, places: 1)) · avg "
                + StatusFormat.decimal(rates.reduce(0, +) / Double(rates.count), places: 1),
            line: Sparkline(
                points: history.map { (ago($0), $0.ordersPerSecond) }, window: window, color: "#1f6feb",
                label: "Orders created per second, last minutes", format: { StatusFormat.decimal($0, places: $0 < 10 ? 1 : 0) }),
            minimumScale: 1, into: &page)
        chart(
            id: "chart-queue", title: "Executor queue", now: "\(status.executor.queued)",
            summary: "max \(history.map(\.executorQueued).max() ?? 0) · capacity \(status.executor.queueCapacity)",
            line: Sparkline(
                points: history.map { (ago($0), Double($0.executorQueued)) }, window: window, color: "#8250df",
                label: "Tasks waiting in the executor queue, last minutes", format: { StatusFormat.decimal($0, places: 0) }),
            minimumScale: 4, ceiling: Double(status.executor.queueCapacity), into: &page)
        // Nothing pending is an age of 0; an unreadable store leaves a gap.
        let ages = history.map { sample -> Double? in
            sample.outboxPending == nil ? nil : Double(sample.oldestPendingAgeSeconds ?? 0)
        }
        chart(
            id: "chart-age", title: "Oldest pending task", now: status.oldestPendingAgeSeconds.map { StatusFormat.duration(seconds: $0) } ?? "none",
            summary: "max " + StatusFormat.duration(seconds: Int64(ages.compactMap { $0 }.max() ?? 0))
                + (status.outbox.map { " · \($0.pending) pending" } ?? ""),
            line: Sparkline(
                points: zip(history, ages).map { (ago($0), $1) }, window: window, color: "#cf222e",
                label: "Age in seconds of the oldest pending outbox task, last minutes",
                format: { StatusFormat.decimal($0, places: 0) + " s" }),
            minimumScale: 10, into: &page)
    }

    private static func chart(
        id: String, title: String, now: String, summary: String, line: Sparkline, minimumScale: Double,
        ceiling: Double? = nil, into page: inout HTMLPage
    ) {
        page.raw("<section class=\"chart\" id=\"\(id)\">\n<div class=\"head\"><h2>")
        page.text(title)
        page.raw("</h2><span class=\"now\">")
        page.text(now)
        page.raw("</span></div>\n")
        page.raw(line.svg(minimumScale: minimumScale, ceiling: ceiling))
        page.raw("\n<div class=\"axis\"><span>")
        page.text("\(Int(line.window) / 60) min ago")
        page.raw("</span><span>")
        page.text(summary)
        page.raw("</span><span>now</span></div>\n</section>\n")
    }

    private static func counters(_ fields: [(name: String, value: Int)], prefix: String, into page: inout HTMLPage) {
        for (name, value) in fields {
            let key = "\(prefix).\(name)"
            let tone = value == 0 ? nil : alarming.contains(key) ? "alarming" : notable.contains(key) ? "notable" : nil
            page.row(label(name), key, number: Int64(value), tone: tone)
        }
    }

    /// The unit of a number of seconds, and a human reading once it says more than the number does.
    private static func reading(seconds: Int64) -> String {
        seconds < 60 ? "s" : "s · " + StatusFormat.duration(seconds: seconds)
    }

    /// `queue_capacity` → `queue capacity`.
    private static func label(_ key: String) -> String {
        String(key.map { $0 == "_" ? " " : $0 })
    }

    private static let css = """
        :root{color-scheme:light}
        *{box-sizing:border-box}
        body{margin:0;background:#f3f4f6;color:#1f2328;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",sans-serif}
        header{background:#1f2937;color:#f9fafb;padding:14px 24px 12px;display:flex;flex-wrap:wrap;align-items:center;gap:6px 22px}
        h1{margin:0;font-size:20px;font-weight:600;letter-spacing:.01em}
        h1 span{font-weight:400;color:#9ca3af}
        .summary{display:flex;flex-wrap:wrap;gap:8px;margin:0;padding:0;list-style:none}
        .summary li{background:#374151;border-radius:999px;padding:2px 11px;font-size:13px;color:#d1d5db}
        .summary b{color:#fff;font-variant-numeric:tabular-nums}
        .summary li.alarming{background:#b42318}
        .meta{margin:0 0 0 auto;font-size:12px;color:#9ca3af}
        main{padding:16px 24px 4px}
        .charts{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:14px}
        .groups{margin-top:14px;columns:3;column-gap:14px}
        .groups section{break-inside:avoid;margin-bottom:14px}
        section{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:10px 14px 8px}
        h2{margin:0 0 6px;font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.06em;color:#57606a}
        .chart .head{display:flex;justify-content:space-between;align-items:baseline}
        .chart .now{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
        .chart svg{display:block;margin:2px 0}
        .chart .grid{stroke:#eaeef2;stroke-dasharray:3 3}
        .chart .base{stroke:#afb8c1}
        .chart .scale{font-size:10px;fill:#6e7781}
        .chart .empty{font-size:12px;fill:#8c959f}
        .axis{display:flex;justify-content:space-between;font-size:11px;color:#6e7781}
        table{width:100%;border-collapse:collapse}
        tr+tr{border-top:1px solid #f0f2f4}
        th,td{vertical-align:baseline}
        th{text-align:left;font-weight:400;color:#57606a;padding:3px 8px 3px 0;white-space:nowrap}
        td{text-align:right;padding:3px 0;font:13px/1.45 ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
        td small{color:#6e7781;font:12px system-ui,sans-serif;margin-left:4px}
        td.alarming{color:#cf222e;font-weight:700}
        td.notable{color:#9a6700;font-weight:700}
        td.muted{color:#8c959f}
        footer{padding:6px 24px 18px;font-size:12px;color:#6e7781}
        footer a{color:#0969da}
        @media (max-width:820px){.charts{grid-template-columns:minmax(0,1fr)}.groups{columns:1}.meta{margin:0}}
        """
}

/// The page being written: raw markup from the code, and text that is always escaped.
private struct HTMLPage {
    private var html = ""

    init() { html.reserveCapacity(12 * 1024) }

    var bytes: [UInt8] { Array(html.utf8) }

    /// Markup written by this file (never a value).
    mutating func raw(_ markup: String) { html += markup }

    /// A value, escaped.
    mutating func text(_ value: String) { html += StatusFormat.html(value) }

    mutating func section(_ id: String, _ title: String) {
        raw("<section id=\"\(id)\">\n<h2>")
        text(title)
        raw("</h2>\n<table>\n")
    }

    mutating func endSection() { raw("</table>\n</section>\n") }

    /// A row whose figure is `text`; `key` is its JSON path.
    mutating func row(_ label: String, _ key: String, text value: String, tone: String? = nil) {
        open(label, key, tone: tone)
        text(value)
        raw("</td></tr>\n")
    }

    /// A row whose figure is an integer, with an optional human reading after it.
    mutating func row(_ label: String, _ key: String, number: Int64, note: String? = nil, tone: String? = nil) {
        open(label, key, tone: tone)
        text(String(number))
        if let note {
            raw("<small>")
            text(note)
            raw("</small>")
        }
        raw("</td></tr>\n")
    }

    private mutating func open(_ label: String, _ key: String, tone: String?) {
        raw("<tr><th>")
        text(label)
        raw("</th><td data-key=\"")
        text(key)
        raw("\"")
        if let tone { raw(" class=\"\(tone)\"") }
        raw(">")
    }
}
