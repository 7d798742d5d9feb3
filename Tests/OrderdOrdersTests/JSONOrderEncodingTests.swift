import Testing
import OrderdSupport
import OrderdOrders

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

private let sample = StoredOrder(
    id: "019ac2f1-7b3e-7c4d-9a1b-2c3d4e5f6a7b",
    createdAtMillis: 1_795_734_533_123,
    order: NewOrder(
        customer: Customer(phone: "+8613800138000", email: "li@example.com"),
        currency: "CNY",
        items: [
            OrderItem(sku: "SKU-1", quantity: 2, unitPriceCents: 1299),
            OrderItem(sku: "SKU.2_b", quantity: 1, unitPriceCents: 0),
        ],
        note: "请放门口 \"thanks\"\n",
        totalCents: 2598
    )
)

@Suite struct JSONOrderEncodingTests {
    @Test func createdBodyIsExact() {
        #expect(text(OrderJSON.createdBody(sample)) ==
            #"{"id":"019ac2f1-7b3e-7c4d-9a1b-2c3d4e5f6a7b","status":"created","total_cents":2598,"currency":"CNY","created_at":"2026-11-26T23:08:53.123Z"}"#)
    }

    @Test func fullBodyIsExact() {
        #expect(text(OrderJSON.fullBody(sample)) ==
            #"{"id":"019ac2f1-7b3e-7c4d-9a1b-2c3d4e5f6a7b","status":"created","total_cents":2598,"currency":"CNY","created_at":"2026-11-26T23:08:53.123Z","customer":{"phone":"+8613800138000","email":"li@example.com"},"items":[{"sku":"SKU-1","quantity":2,"unit_price_cents":1299},{"sku":"SKU.2_b","quantity":1,"unit_price_cents":0}],"note":"请放门口 \"thanks\"\n"}"#)
    }

    @Test func fullBodyOmitsAbsentEmailAndNote() {
        var order = sample
        order.order.customer.email = nil
        order.order.note = nil
        order.order.items = [OrderItem(sku: "A", quantity: 1, unitPriceCents: 5)]
        order.order.totalCents = 5
        #expect(text(OrderJSON.fullBody(order)) ==
            #"{"id":"019ac2f1-7b3e-7c4d-9a1b-2c3d4e5f6a7b","status":"created","total_cents":5,"currency":"CNY","created_at":"2026-11-26T23:08:53.123Z","customer":{"phone":"+8613800138000"},"items":[{"sku":"A","quantity":1,"unit_price_cents":5}]}"#)
    }

    @Test func createdBodyParsesBack() throws {
        let value = try JSONParser.parse(OrderJSON.createdBody(sample))
        #expect(value == .object([
            (key: "id", value: .string(sample.id)),
            (key: "status", value: .string("created")),
            (key: "total_cents", value: .number(JSONNumber(2598))),
            (key: "currency", value: .string("CNY")),
            (key: "created_at", value: .string("2026-11-26T23:08:53.123Z")),
        ]))
    }

    struct RoundTripCase: Sendable, CustomTestStringConvertible {
        let name: String
        let note: String?
        let email: String?
        var testDescription: String { name }
    }

    static let roundTrips: [RoundTripCase] = [
        RoundTripCase(name: "plain", note: "leave at the door", email: "li@example.com"),
        RoundTripCase(name: "no optionals", note: nil, email: nil),
        RoundTripCase(name: "quotes and backslashes", note: #"say "hi" \ bye"#, email: "a@b.co"),
        RoundTripCase(name: "control characters", note: "line1\nline2\r\ttab\u{1}\u{1F}\u{7F}", email: nil),
        RoundTripCase(name: "non-ASCII", note: "中文 é e\u{301} 😀 \u{2028}", email: "用户@例子.中国"),
        RoundTripCase(name: "empty note", note: "", email: nil),
        RoundTripCase(name: "500 scalars", note: String(repeating: "字", count: 500), email: nil),
    ]

    /// Encode a valid order, parse it back, and validate the request-shaped part again: nothing changes.
    @Test(arguments: roundTrips)
    func fullBodyRoundTrips(_ testCase: RoundTripCase) throws {
        var stored = sample
        stored.order.note = testCase.note
        stored.order.customer.email = testCase.email
        let bytes = OrderJSON.fullBody(stored)
        let value = try JSONParser.parse(bytes)

        guard case .object(let members) = value else { Issue.record("not an object"); return }
        #expect(value["id"] == .string(stored.id))
        #expect(value["created_at"] == .string("2026-11-26T23:08:53.123Z"))
        #expect(value["total_cents"] == .number(JSONNumber(stored.order.totalCents)))
        #expect(value["note"] == testCase.note.map { JSONValue.string($0) })
        #expect(value["customer"]?["email"] == testCase.email.map { JSONValue.string($0) })

        // The request fields alone form a valid order body equal to the stored order.
        let requestKeys: Set<String> = ["customer", "currency", "items", "note"]
        let request = JSONValue.object(members.filter { requestKeys.contains($0.key) })
        #expect(try OrderValidator.validate(request) == stored.order)
    }

    @Test func extremeValuesEncode() throws {
        var stored = sample
        stored.createdAtMillis = 0
        stored.order.totalCents = .max
        stored.order.items = [OrderItem(sku: "A", quantity: .max, unitPriceCents: .min)]
        let value = try JSONParser.parse(OrderJSON.fullBody(stored))
        #expect(value["created_at"] == .string("1970-01-01T00:00:00.000Z"))
        #expect(value["total_cents"] == .number(JSONNumber(.max)))
        guard case .array(let items)? = value["items"] else { Issue.record("no items"); return }
        #expect(items[0]["quantity"] == .number(JSONNumber(Int64(Int.max))))
        #expect(items[0]["unit_price_cents"] == .number(JSONNumber(.min)))
    }
}
