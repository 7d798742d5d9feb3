import Logging
import OrderdOrders
import OrderdSupport

/// `webhook`: the order, as `GET /orders/{id}` shows it, posted to `task.webhook.url`, signed
/// (`X-Orderd-Signature`) with the time of this attempt.
package struct WebhookHandler: FollowUpHandler {
    let poster: HTTPPoster
    /// nil only where no secret is configured (the configuration refuses a URL without one; tests may omit it).
    let signature: WebhookSignature?
    /// Milliseconds since the Unix epoch.
    let wallClock: @Sendable () -> Int64

    package func perform(order: StoredOrder, taskID: String, attempt: Int, deadline: ContinuousClock.Instant) async throws {
        let body = OrderJSON.fullBody(order)
        var headers: [(name: String, value: String)] = []
        if let signature {
            headers.append((WebhookSignature.headerName, signature.header(body: body, unixSeconds: wallClock() / 1000)))
        }
        try await poster.post(json: body, idempotencyKey: taskID, headers: headers, deadline: deadline)
    }

    package init(poster: HTTPPoster, signature: WebhookSignature?, wallClock: @escaping @Sendable () -> Int64) {
        self.poster = poster
        self.signature = signature
        self.wallClock = wallClock
    }
}
