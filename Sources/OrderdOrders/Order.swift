import OrderdSupport

/// A buyer's contact details as accepted by `POST /orders`.
package struct Customer: Sendable, Equatable {
    /// E.164 phone number, e.g. `+8613800138000`.
    package var phone: String
    package var email: String?

    package init(phone: String, email: String? = nil) {
        self.phone = phone
        self.email = email
    }
}

/// One line of an order.
package struct OrderItem: Sendable, Equatable {
    package var sku: String
    package var quantity: Int
    package var unitPriceCents: Int64

    package init(sku: String, quantity: Int, unitPriceCents: Int64) {
        self.sku = sku
        self.quantity = quantity
        self.unitPriceCents = unitPriceCents
    }
}

/// A validated order, not yet stored. `totalCents` is computed on the server.
package struct NewOrder: Sendable, Equatable {
    package var customer: Customer
    /// ISO 4217 code, upper case.
    package var currency: String
    package var items: [OrderItem]
    package var note: String?
    package var totalCents: Int64
    /// The id of the API key that created the order (never the secret); nil for orders from before keys.
    package var createdBy: String?

    package init(customer: Customer, currency: String, items: [OrderItem], note: String?, totalCents: Int64, createdBy: String? = nil) {
        self.customer = customer
        self.currency = currency
        self.items = items
        self.note = note
        self.totalCents = totalCents
        self.createdBy = createdBy
    }
}

/// An order as it is stored: the validated order, its id and its creation time.
package struct StoredOrder: Sendable, Equatable {
    /// UUIDv7 in canonical lower-case form: unguessable and sortable by time.
    package var id: String
    /// Milliseconds since the Unix epoch, UTC.
    package var createdAtMillis: Int64
    package var order: NewOrder
    /// True on the order `OrderStore.create` returns when its SMS task was written dead, `throttled`
    /// (`task.sms.per_recipient`), so the follow-ups neither send it nor hold a lease on it; false on an order
    /// read back from the store.
    package var smsThrottled = false

    package init(id: String, createdAtMillis: Int64, order: NewOrder) {
        self.id = id
        self.createdAtMillis = createdAtMillis
        self.order = order
    }
}
