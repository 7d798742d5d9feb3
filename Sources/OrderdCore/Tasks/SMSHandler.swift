import Logging

/// `sms`: the buyer's confirmation SMS. The gateway receives `{"to":phone,"text":…,"order_id":…}` with
/// `Idempotency-Key: <task id>`; with `driver = log` the message is only logged (phone masked).
struct SMSHandler: FollowUpHandler {
    enum Transport: Sendable {
        case http(HTTPPoster)
        case log(Logger)
    }

    let transport: Transport

    func perform(order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant) async throws {
        let text = Self.text(for: order)
        switch transport {
        case .http(let poster):
            var json = JSONWriter(capacity: 256)
            json.beginObject()
            json.key("to")
            json.string(order.order.customer.phone)
            json.key("text")
            json.string(text)
            json.key("order_id")
            json.string(order.id)
            json.endObject()
            try await poster.post(json: json.bytes, idempotencyKey: taskID, deadline: deadline)
        case .log(let logger):
            logger.info("sms (driver log, not sent)", metadata: [
                "to": "\(Redact.phone(order.order.customer.phone))", "order_id": "\(order.id)", "text": "\(text)",
                "task_id": "\(taskID)",
            ])
        }
    }

    /// "Order 0193a7c2 confirmed: 12.34 EUR." Amounts are in cents (hundredths) throughout the API.
    static func text(for order: StoredOrder) -> String {
        let cents = order.order.totalCents
        let fraction = String(cents % 100 + 100).dropFirst()
        return "Order \(order.id.prefix(8)) confirmed: \(cents / 100).\(fraction) \(order.order.currency)."
    }
}

/// `webhook`: the order, as `GET /orders/{id}` shows it, posted to `task.webhook.url`.
struct WebhookHandler: FollowUpHandler {
    let poster: HTTPPoster

    func perform(order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant) async throws {
        try await poster.post(json: OrderJSON.fullBody(order), idempotencyKey: taskID, deadline: deadline)
    }
}
