/// A buyer's contact details as accepted by `POST /orders`.
public struct Customer: Sendable, Equatable {
    /// E.164 phone number, e.g. `+8613800138000`.
    public var phone: String
    public var email: String?

    public init(phone: String, email: String? = nil) {
        self.phone = phone
        self.email = email
    }
}

/// One line of an order.
public struct OrderItem: Sendable, Equatable {
    public var sku: String
    public var quantity: Int
    public var unitPriceCents: Int64

    public init(sku: String, quantity: Int, unitPriceCents: Int64) {
        self.sku = sku
        self.quantity = quantity
        self.unitPriceCents = unitPriceCents
    }
}

/// A validated order, not yet stored. `totalCents` is computed on the server.
public struct NewOrder: Sendable, Equatable {
    public var customer: Customer
    /// ISO 4217 code, upper case.
    public var currency: String
    public var items: [OrderItem]
    public var note: String?
    public var totalCents: Int64
    /// The id of the API key that created the order (never the secret); nil for orders from before keys.
    public var createdBy: String?

    public init(customer: Customer, currency: String, items: [OrderItem], note: String?, totalCents: Int64, createdBy: String? = nil) {
        self.customer = customer
        self.currency = currency
        self.items = items
        self.note = note
        self.totalCents = totalCents
        self.createdBy = createdBy
    }
}

/// An order as it is stored: the validated order, its id and its creation time.
public struct StoredOrder: Sendable, Equatable {
    /// UUIDv7 in canonical lower-case form: unguessable and sortable by time.
    public var id: String
    /// Milliseconds since the Unix epoch, UTC.
    public var createdAtMillis: Int64
    public var order: NewOrder
    /// True on the order `OrderStore.create` returns when its SMS task was written dead, `throttled`
    /// (`task.sms.per_recipient`), so the follow-ups neither send it nor hold a lease on it; false on an order
    /// read back from the store.
    public var smsThrottled = false

    public init(id: String, createdAtMillis: Int64, order: NewOrder) {
        self.id = id
        self.createdAtMillis = createdAtMillis
        self.order = order
    }
}
