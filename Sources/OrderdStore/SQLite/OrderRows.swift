import OrderdOrders
import OrderdSupport

/// The SQL that maps `StoredOrder` to its `orders` row and back, shared by the writer and the readers.
///
/// The lines of an order are one `items` column: the JSON array
/// `[{"sku":"…","quantity":…,"unit_price_cents":…},…]` in line order, written with `JSONWriter` and read back
/// with `JSONParser`, so an order is one row in one b-tree and `sqlite3` can still show it (`json_each`).
enum OrderRows {
    /// The columns `decode(_:)` reads, in its column order.
    static let orderColumns = "id, created_at_ms, phone, email, currency, total_cents, note, items"

    private static let selectByID = "SELECT \(orderColumns) FROM orders WHERE id = ?1"
    private static let insertOrder = """
        INSERT INTO orders (
            id, created_at_ms, phone, email, currency, total_cents, note, items, idempotency_key, request_body,
            created_by)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        """

    static func fetch(id: String, on connection: SQLiteConnection) throws(StoreError) -> StoredOrder? {
        let statement = try connection.cached(selectByID)
        defer { statement.reset() }
        try statement.bind(1, id)
        guard try statement.step() else { return nil }
        return try decode(statement)
    }

    /// The order in the current row of `statement`, whose first columns are `orderColumns`.
    static func decode(_ statement: SQLiteStatement) throws(StoreError) -> StoredOrder {
        let id = statement.text(0)
        let items = try statement.withText(7) { (json) throws(StoreError) -> [OrderItem] in
            try decodeItems(json, orderID: id)
        }
        return StoredOrder(
            id: id,
            createdAtMillis: statement.int64(1),
            order: NewOrder(
                customer: Customer(phone: statement.text(2), email: statement.optionalText(3)),
                currency: statement.text(4),
                items: items,
                note: statement.optionalText(6),
                totalCents: statement.int64(5)
            )
        )
    }

    /// Inserts the order, with its idempotency key and request body when it has them.
    static func insert(
        _ stored: StoredOrder,
        idempotency: IdempotencyRequest?,
        on connection: SQLiteConnection
    ) throws(StoreError) {
        let order = stored.order
        let statement = try connection.cached(insertOrder)
        defer { statement.reset() }
        try statement.bind(1, stored.id)
        try statement.bind(2, stored.createdAtMillis)
        try statement.bind(3, order.customer.phone)
        try statement.bind(4, order.customer.email)
        try statement.bind(5, order.currency)
        try statement.bind(6, order.totalCents)
        try statement.bind(7, order.note)
        try statement.bind(8, utf8Text: encodeItems(order.items))
        if let idempotency {
            try statement.bind(9, idempotency.key)
            try statement.bind(10, blob: idempotency.body)
        }  // else ?9 and ?10 stay NULL (reset() clears bindings)
        try statement.bind(11, order.createdBy)
        try statement.step()
    }

    // MARK: - The items column

    /// `[{"sku":"…","quantity":…,"unit_price_cents":…},…]`, UTF-8, lines in order.
    static func encodeItems(_ items: [OrderItem]) -> [UInt8] {
        var writer = JSONWriter(capacity: 2 + items.count * 64)
        OrderJSON.writeItems(items, into: &writer)
        return writer.bytes
    }

    /// The lines of an `items` column. Anything but what `encodeItems` writes is reported as damage.
    static func decodeItems(_ json: UnsafeRawBufferPointer, orderID: String) throws(StoreError) -> [OrderItem] {
        func damaged(_ what: String) -> StoreError {
            StoreError.corrupt("order \(orderID): items column \(what)")
        }
        let value: JSONValue
        do throws(JSONSyntaxError) {
            // Depth 2: the array and its objects.
            value = try JSONParser.parse(json, maxDepth: 2)
        } catch {
            throw damaged("is not JSON: \(error)")
        }
        guard case .array(let elements) = value else { throw damaged("is not an array") }
        var items: [OrderItem] = []
        items.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard case .object(let members) = element, members.count == 3,
                case .string(let sku)? = element["sku"],
                case .number(let quantity)? = element["quantity"], let quantity = quantity.int64,
                let quantity = Int(exactly: quantity),
                case .number(let unitPrice)? = element["unit_price_cents"], let unitPrice = unitPrice.int64
            else {
                throw damaged("line \(index + 1) is not {\"sku\":string,\"quantity\":integer,\"unit_price_cents\":integer}")
            }
            items.append(OrderItem(sku: sku, quantity: quantity, unitPriceCents: unitPrice))
        }
        return items
    }
}
