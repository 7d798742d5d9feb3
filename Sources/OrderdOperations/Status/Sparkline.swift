import OrderdSupport

/// A small inline SVG line chart of the last minutes, for the status page: no axes library, no script.
///
/// Time runs left (`window` seconds ago) to right (now), so a young process shows a short line ending at the
/// right edge, and a missing value (`nil`) leaves a gap.
struct Sparkline {
    /// Seconds before now (0 is now) and the value then.
    var points: [(secondsAgo: Double, value: Double?)]
    /// Seconds the chart spans.
    var window: Double
    /// A CSS colour (a constant of the page, never user data).
    var color: String
    /// What the chart shows, for screen readers.
    var label: String
    /// How a value on the scale is written.
    var format: (Double) -> String

    static let width = 300.0
    static let height = 84.0
    private static let top = 14.0
    private static let bottom = 78.0

    var values: [Double] { points.compactMap(\.value) }

    /// The top of the scale: the largest value rounded up to 1, 2 or 5 times a power of ten (at least `minimum`).
    static func scaleMaximum(_ largest: Double, minimum: Double) -> Double {
        guard largest > minimum else { return minimum }
        var power = 1.0
        while power * 10 <= largest { power *= 10 }
        while power > largest { power /= 10 }
        for step in [1.0, 2.0, 5.0, 10.0] where step * power >= largest { return step * power }
        return largest
    }

    /// - Parameters:
    ///   - minimumScale: the top of the scale when every value is below it.
    ///   - ceiling: a natural top (the queue's capacity) used instead of a round number above it.
    func svg(minimumScale: Double, ceiling: Double? = nil) -> String {
        var maximum = Self.scaleMaximum(values.max() ?? 0, minimum: minimumScale)
        if let ceiling, ceiling > 0, maximum > ceiling, (values.max() ?? 0) <= ceiling { maximum = ceiling }
        func x(_ secondsAgo: Double) -> String {
            StatusFormat.decimal(Self.width * (1 - min(max(secondsAgo, 0), window) / window), places: 1)
        }
        func y(_ value: Double) -> String {
            StatusFormat.decimal(Self.bottom - (Self.bottom - Self.top) * min(max(value, 0), maximum) / maximum, places: 1)
        }
        let middle = StatusFormat.decimal((Self.top + Self.bottom) / 2, places: 1)
        var svg = #"<svg viewBox="0 0 300 84" width="100%" role="img" aria-label="\#(StatusFormat.html(label))">"#
        svg += #"<line x1="0" y1="14" x2="300" y2="14" class="grid"/>"#
        svg += #"<line x1="0" y1="\#(middle)" x2="300" y2="\#(middle)" class="grid"/>"#
        svg += #"<line x1="0" y1="78" x2="300" y2="78" class="base"/>"#
        svg += #"<text x="2" y="10" class="scale">\#(StatusFormat.html(format(maximum)))</text>"#
        // Runs of consecutive values; a nil ends a run.
        var runs: [[(secondsAgo: Double, value: Double)]] = [[]]
        for point in points.sorted(by: { $0.secondsAgo > $1.secondsAgo }) where point.secondsAgo <= window {
            if let value = point.value { runs[runs.count - 1].append((point.secondsAgo, value)) } else { runs.append([]) }
        }
        runs.removeAll { $0.isEmpty }
        guard !runs.isEmpty else {
            svg += #"<text x="150" y="50" text-anchor="middle" class="empty">collecting samples…</text></svg>"#
            return svg
        }
        for run in runs {
            let line = run.map { "\(x($0.secondsAgo)),\(y($0.value))" }.joined(separator: " ")
            if run.count == 1 {
                svg += #"<circle cx="\#(x(run[0].secondsAgo))" cy="\#(y(run[0].value))" r="2" fill="\#(color)"/>"#
                continue
            }
            let area = "M\(x(run[0].secondsAgo)),78 " + run.map { "L\(x($0.secondsAgo)),\(y($0.value))" }.joined(separator: " ")
                + " L\(x(run[run.count - 1].secondsAgo)),78 Z"
            svg += #"<path d="\#(area)" fill="\#(color)" fill-opacity="0.12"/>"#
            svg += #"<polyline points="\#(line)" fill="none" stroke="\#(color)" stroke-width="1.6" stroke-linejoin="round"/>"#
        }
        if let run = runs.last, run.count > 1, let last = run.last {
            svg += #"<circle cx="\#(x(last.secondsAgo))" cy="\#(y(last.value))" r="2.6" fill="\#(color)"/>"#
        }
        return svg + "</svg>"
    }
}
