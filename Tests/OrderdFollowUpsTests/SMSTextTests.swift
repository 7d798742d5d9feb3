import Testing
import TestSupport
// @testable: these tests read internals: OrderdOrders (activeCodes, minorUnitExceptions, minorUnits); OrderdFollowUps
//  (reference, text).
@testable import OrderdOrders
@testable import OrderdFollowUps

/// The buyer's SMS: a reference that tells orders apart, and the total in the currency's own minor unit.
@Suite struct SMSTextTests {
    private static func order(id: String = "019ae0c4-1a2b-7c3d-8e4f-0123456789ab", total: Int64, currency: String) -> StoredOrder {
        StoredOrder(
            id: id, createdAtMillis: 0,
            order: NewOrder(
                customer: Customer(phone: "+8613800138000"), currency: currency,
                items: [OrderItem(sku: "SKU-1", quantity: 1, unitPriceCents: total)], note: nil, totalCents: total))
    }

    @Test(arguments: [
        // Two decimals, the common case.
        (1299, "EUR", "12.99 EUR"), (5, "USD", "0.05 USD"), (100, "CNY", "1.00 CNY"), (0, "GBP", "0.00 GBP"),
        // No minor unit: JPY 1299 is ¥1,299.
        (1299, "JPY", "1299 JPY"), (50_000, "KRW", "50000 KRW"), (7, "CLP", "7 CLP"), (1, "XOF", "1 XOF"),
        // Three decimals.
        (1299, "KWD", "1.299 KWD"), (5, "BHD", "0.005 BHD"), (1000, "TND", "1.000 TND"),
        // Four (units of account), and a code without a minor unit ("N.A.": whole units).
        (12345, "CLF", "1.2345 CLF"), (3, "XAU", "3 XAU"),
        (1_000_000_000_000, "EUR", "10000000000.00 EUR"),
    ] as [(Int64, String, String)])
    func amountUsesTheMinorUnit(_ amount: Int64, _ currency: String, _ expected: String) {
        #expect(ISO4217.format(minorUnits: amount, currency: currency) == expected)
    }

    @Test(arguments: [("JPY", 0), ("EUR", 2), ("USD", 2), ("KWD", 3), ("UYW", 4), ("XXX", 0), ("MRU", 2)] as [(String, Int)])
    func minorUnits(_ code: String, _ digits: Int) {
        #expect(ISO4217.minorUnits(of: code) == digits)
    }

    /// Every exception is an active code, so a typo in the table cannot go unnoticed.
    @Test func exceptionsAreActiveCodes() {
        #expect(Set(ISO4217.minorUnitExceptions.keys).isSubset(of: ISO4217.activeCodes))
    }

    @Test func textNamesTheOrderAndTheAmount() {
        let text = SMSHandler.text(for: Self.order(total: 1299, currency: "JPY"))
        #expect(text == "Order 456789ab confirmed: 1299 JPY.")
    }

    /// Two ids of the same millisecond (same first 8 hex digits) get different references.
    @Test(arguments: [
        ("019ae0c4-1a2b-7c3d-8e4f-0123456789ab", "019ae0c4-1a2b-7c3e-9a00-00000000cdef"),
        ("019ae0c4-0000-7000-8000-000000000001", "019ae0c4-0000-7000-8000-000000000002"),
    ])
    func referencesDifferForOrdersOfTheSameMoment(_ first: String, _ second: String) {
        #expect(first.prefix(8) == second.prefix(8))
        let a = SMSHandler.reference(for: first)
        let b = SMSHandler.reference(for: second)
        #expect(a != b)
        #expect(a.count == 8 && a.allSatisfy(\.isHexDigit))
        #expect(SMSHandler.text(for: Self.order(id: first, total: 1, currency: "EUR")).contains(a))
    }
}
