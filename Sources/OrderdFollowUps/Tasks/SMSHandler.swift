import Logging
import OrderdOrders
import OrderdSupport

/// `sms`: the buyer's confirmation SMS. The gateway receives `{"to":phone,"text":…,"order_id":…}` with
/// `Idempotency-Key: <task id>` and the header line of `task.sms.auth_header_file`, if any; with `driver = log`
/// the message is only logged (phone masked).
package struct SMSHandler: FollowUpHandler {
    package enum Transport: Sendable {
        case http(HTTPPoster, header: HeaderLine?)
        case log(Logger)
    }

    let transport: Transport

    package func perform(order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant) async throws {
        let text = Self.text(for: order)
        switch transport {
        case .http(let poster, let header):
            var json = JSONWriter(capacity: 256)
            json.beginObject()
            json.key("to")
            json.string(order.order.customer.phone)
            json.key("text")
            json.string(text)
            json.key("order_id")
            json.string(order.id)
            json.endObject()
            try await poster.post(
                json: json.bytes, idempotencyKey: taskID, headers: header.map { [($0.name, $0.value)] } ?? [],
                deadline: deadline)
        case .log(let logger):
            logger.info("sms (driver log, not sent)", metadata: [
                "to": .string(Redact.phone(order.order.customer.phone)), "order_id": .string(order.id), "text": .string(text),
                "task_id": .string(taskID),
            ])
        }
    }

    /// "Order 4f1e9c07 confirmed: 12.34 EUR." The reference is the id's last 8 hex digits: its first ones are
    /// the UUIDv7 timestamp, the same for every order within about 65 s; the last ones are random. The
    /// amount is in the currency's ISO 4217 minor unit, as everywhere in the API (`ISO4217.format`).
    static func text(for order: StoredOrder) -> String {
        "Order \(reference(for: order.id)) confirmed: \(ISO4217.format(minorUnits: order.order.totalCents, currency: order.order.currency))."
    }

    /// The short reference an SMS shows: the last 8 hex digits of the order id.
    static func reference(for id: String) -> String {
        String(id.suffix(8))
    }

    package init(transport: Transport) {
        self.transport = transport
    }
}
