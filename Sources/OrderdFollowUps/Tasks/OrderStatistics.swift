import OrderdOrders
import OrderdStore
import OrderdSupport

/// Dashboard statistics: orders and revenue per minute and currency over the last hour, in memory.
///
/// Best-effort by design: fed by the `stats` task, which is dropped when the executor's queue is full, and
/// lost at a restart. The outbox and `GET /orders/{id}` are the record; these numbers are a dashboard.
package final class OrderStatistics: Sendable {
    package static let windowMinutes = 60

    struct Bucket: Sendable {
        var minute: Int64 = -1
        var byCurrency: [String: (orders: Int, revenueCents: Int64)] = [:]
    }

    // Added to by the executor's workers for every order: a pthread mutex, not a `Synchronization.Mutex` (see
    // PThreadLocked).
    private let buckets = PThreadLocked([Bucket](repeating: Bucket(), count: OrderStatistics.windowMinutes))
    private let wallClock: @Sendable () -> Int64

    package init(wallClock: @escaping @Sendable () -> Int64 = WallClock.unixMillis) {
        self.wallClock = wallClock
    }

    /// Counts `order` in the minute it was created (dropped when that minute is out of the window).
    func add(_ order: StoredOrder) {
        let minute = order.createdAtMillis / 60_000
        let slot = Int(minute % Int64(Self.windowMinutes))
        buckets.withLock { buckets in
            if buckets[slot].minute != minute {
                guard minute > buckets[slot].minute else { return }  // older than the window
                buckets[slot] = Bucket(minute: minute)
            }
            var entry = buckets[slot].byCurrency[order.order.currency] ?? (0, 0)
            entry.orders += 1
            entry.revenueCents &+= order.order.totalCents
            buckets[slot].byCurrency[order.order.currency] = entry
        }
    }

    /// `GET /stats`: `{"window_minutes":60,"minutes":[{"minute":"…","currencies":{"EUR":{"orders":…,
    /// "revenue_cents":…}}}…],"totals":{"EUR":{…}}}`, minutes oldest first, empty minutes left out.
    package func json() -> [UInt8] {
        let nowMinute = wallClock() / 60_000
        let live = buckets.withLock { buckets in
            buckets.filter { $0.minute > nowMinute - Int64(Self.windowMinutes) && $0.minute <= nowMinute }
        }.sorted { $0.minute < $1.minute }
        var totals: [String: (orders: Int, revenueCents: Int64)] = [:]
        var json = JSONWriter(capacity: 256 + live.count * 96)
        func write(_ currencies: [String: (orders: Int, revenueCents: Int64)]) {
            json.beginObject()
            for currency in currencies.keys.sorted() {
                let entry = currencies[currency]!
                json.key(currency)
                json.beginObject()
                json.key("orders")
                json.integer(entry.orders)
                json.key("revenue_cents")
                json.integer(entry.revenueCents)
                json.endObject()
            }
            json.endObject()
        }
        json.beginObject()
        json.key("window_minutes")
        json.integer(Self.windowMinutes)
        json.key("minutes")
        json.beginArray()
        for bucket in live {
            json.beginObject()
            json.key("minute")
            json.timestamp(millis: bucket.minute * 60_000)
            json.key("currencies")
            write(bucket.byCurrency)
            json.endObject()
            for (currency, entry) in bucket.byCurrency {
                var total = totals[currency] ?? (0, 0)
                total.orders += entry.orders
                total.revenueCents &+= entry.revenueCents
                totals[currency] = total
            }
        }
        json.endArray()
        json.key("totals")
        write(totals)
        json.endObject()
        return json.bytes
    }
}
