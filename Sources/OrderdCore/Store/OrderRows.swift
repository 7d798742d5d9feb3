/// The SQL that maps `StoredOrder` to the `orders` and `order_items` rows and back, shared by the writer and
/// the readers.
enum OrderRows {
    // One statement, so the order and its lines come from one read snapshot.
    private static let selectByID = """
        SELECT o.created_at_ms, o.phone, o.email, o.currency, o.total_cents, o.note,
               i.sku, i.quantity, i.unit_price_cents
        FROM orders AS o LEFT JOIN order_items AS i ON i.order_id = o.id
        WHERE o.id = ?1
        ORDER BY i.line
        """
    private static let insertOrder = """
        INSERT INTO orders (id, created_at_ms, phone, email, currency, total_cents, note)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
        """
    private static let insertItem = """
        INSERT INTO order_items (order_id, line, sku, quantity, unit_price_cents)
        VALUES (?1, ?2, ?3, ?4, ?5)
        """

    static func fetch(id: String, on connection: SQLiteConnection) throws(StoreError) -> StoredOrder? {
        let statement = try connection.cached(selectByID)
        defer { statement.reset() }
        try statement.bind(1, id)
        guard try statement.step() else { return nil }
        var order = NewOrder(
            customer: Customer(phone: statement.text(1), email: statement.optionalText(2)),
            currency: statement.text(3),
            items: [],
            note: statement.optionalText(5),
            totalCents: statement.int64(4)
        )
        let createdAt = statement.int64(0)
        repeat {
            // LEFT JOIN: an order without lines gives one row with NULL line columns.
            guard !statement.isNull(6) else { continue }
            order.items.append(OrderItem(
                sku: statement.text(6),
                quantity: Int(statement.int64(7)),
                unitPriceCents: statement.int64(8)
            ))
        } while try statement.step()
        return StoredOrder(id: id, createdAtMillis: createdAt, order: order)
    }

    static func insert(_ stored: StoredOrder, on connection: SQLiteConnection) throws(StoreError) {
        let order = stored.order
        let orderStatement = try connection.cached(insertOrder)
        defer { orderStatement.reset() }
        try orderStatement.bind(1, stored.id)
        try orderStatement.bind(2, stored.createdAtMillis)
        try orderStatement.bind(3, order.customer.phone)
        try orderStatement.bind(4, order.customer.email)
        try orderStatement.bind(5, order.currency)
        try orderStatement.bind(6, order.totalCents)
        try orderStatement.bind(7, order.note)
        try orderStatement.step()

        let itemStatement = try connection.cached(insertItem)
        defer { itemStatement.reset() }
        for (index, item) in order.items.enumerated() {
            itemStatement.reset()
            try itemStatement.bind(1, stored.id)
            try itemStatement.bind(2, Int64(index + 1))
            try itemStatement.bind(3, item.sku)
            try itemStatement.bind(4, Int64(item.quantity))
            try itemStatement.bind(5, item.unitPriceCents)
            try itemStatement.step()
        }
    }
}
