import OrderdSupport

/// The JSON answers about orders, written by hand with `JSONWriter` (no Foundation, no `Codable`).
package enum OrderJSON {
    /// The body of `201 Created`:
    /// `{"id":"…","status":"created","total_cents":2598,"currency":"CNY","created_at":"2026-11-26T23:08:53.123Z"}`
    package static func createdBody(_ order: StoredOrder) -> [UInt8] {
        var writer = JSONWriter(capacity: 160)
        writer.beginObject()
        writeSummary(order, into: &writer)
        writer.endObject()
        return writer.bytes
    }

    /// The whole order, as `GET /orders/{id}` answers it: the fields of `createdBody`, then
    /// `"customer":{"phone":…[,"email":…]}`, `"items":[{"sku":…,"quantity":…,"unit_price_cents":…},…]`
    /// and `"note"`; `email` and `note` are left out when absent.
    package static func fullBody(_ order: StoredOrder) -> [UInt8] {
        let content = order.order
        var writer = JSONWriter(capacity: 256 + 64 * content.items.count + (content.note?.utf8.count ?? 0))
        writer.beginObject()
        writeSummary(order, into: &writer)
        writer.key("customer")
        writer.beginObject()
        writer.key("phone")
        writer.string(content.customer.phone)
        if let email = content.customer.email {
            writer.key("email")
            writer.string(email)
        }
        writer.endObject()
        writer.key("items")
        writeItems(content.items, into: &writer)
        if let note = content.note {
            writer.key("note")
            writer.string(note)
        }
        writer.endObject()
        return writer.bytes
    }

    private static func writeSummary(_ order: StoredOrder, into writer: inout JSONWriter) {
        writer.key("id")
        writer.string(order.id)
        writer.key("status")
        writer.string("created")
        writer.key("total_cents")
        writer.integer(order.order.totalCents)
        writer.key("currency")
        writer.string(order.order.currency)
        writer.key("created_at")
        writer.timestamp(millis: order.createdAtMillis)
    }

    /// `[{"sku":…,"quantity":…,"unit_price_cents":…},…]`: the lines as answers show them and the store keeps them.
    package static func writeItems(_ items: [OrderItem], into writer: inout JSONWriter) {
        writer.beginArray()
        for item in items {
            writer.beginObject()
            writer.key("sku")
            writer.string(item.sku)
            writer.key("quantity")
            writer.integer(item.quantity)
            writer.key("unit_price_cents")
            writer.integer(item.unitPriceCents)
            writer.endObject()
        }
        writer.endArray()
    }
}
