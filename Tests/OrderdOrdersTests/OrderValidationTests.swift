import Foundation
import Testing
import OrderdSupport
// @testable: these tests read internals: OrderdOrders (activeCodes, emailProblem, phoneProblem).
@testable import OrderdOrders

// MARK: - Fixtures

private let validCustomer = #"{"phone":"+8613800138000","email":"li@example.com"}"#
private let validItem = #"{"sku":"SKU-1","quantity":2,"unit_price_cents":1299}"#

/// An order body with the given raw JSON fragments; `nil` leaves the field out.
private func order(
    customer: String? = validCustomer,
    currency: String? = #""CNY""#,
    items: String? = "[\(validItem)]",
    note: String? = nil,
    extra: String? = nil
) -> String {
    var members: [String] = []
    if let customer { members.append(#""customer":"# + customer) }
    if let currency { members.append(#""currency":"# + currency) }
    if let items { members.append(#""items":"# + items) }
    if let note { members.append(#""note":"# + note) }
    if let extra { members.append(extra) }
    return "{" + members.joined(separator: ",") + "}"
}

private func customer(phone: String = #""+8613800138000""#, email: String? = nil, extra: String? = nil) -> String {
    var members = [#""phone":"# + phone]
    if let email { members.append(#""email":"# + email) }
    if let extra { members.append(extra) }
    return "{" + members.joined(separator: ",") + "}"
}

private func item(sku: String? = #""SKU-1""#, quantity: String? = "2", price: String? = "1299", extra: String? = nil) -> String {
    var members: [String] = []
    if let sku { members.append(#""sku":"# + sku) }
    if let quantity { members.append(#""quantity":"# + quantity) }
    if let price { members.append(#""unit_price_cents":"# + price) }
    if let extra { members.append(extra) }
    return "{" + members.joined(separator: ",") + "}"
}

private func validate(_ text: String) throws -> NewOrder {
    try OrderValidator.validate(JSONParser.parse(Array(text.utf8)))
}

private func problems(_ text: String) throws -> [FieldProblem]? {
    let value = try JSONParser.parse(Array(text.utf8))
    do {
        _ = try OrderValidator.validate(value)
        return nil
    } catch {
        return error.problems
    }
}

// The exact messages, spelled out so that a change to any of them is a visible test change.
private enum M {
    static let required = "is required"
    static let unknown = "is not a known field"
    static let object = "must be an object"
    static let array = "must be an array"
    static let string = "must be a string"
    static let nul = "must not contain the NUL character (U+0000)"
    static let phone = "must be an E.164 phone number: '+' and 8 to 15 digits, the first not 0"
    static let email = "must be an email address like name@example.com"
    static let emailLength = "must be at most 254 bytes long"
    static let currencyFormat = "must be a three-letter upper-case ISO 4217 currency code"
    static let currencyInactive = "is not an active ISO 4217 currency code"
    static let items = "must hold 1 to 100 items"
    static let sku = "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'"
    static let quantity = "must be an integer from 1 to 1000"
    static let price = "must be an integer from 0 to 1000000000000"
    static let note = "must be at most 500 characters long"
    static let total = "make an order total above the maximum of 1000000000000000 cents"
}

struct BadOrderCase: Sendable, CustomTestStringConvertible {
    let name: String
    let body: String
    let problems: [FieldProblem]

    init(_ name: String, _ body: String, _ problems: [(String, String)]) {
        self.name = name
        self.body = body
        self.problems = problems.map { FieldProblem(field: $0.0, message: $0.1) }
    }

    var testDescription: String { name }
}

// MARK: - Validation

@Suite struct OrderValidationTests {
    @Test func acceptsTheDocumentedShape() throws {
        let body = #"{"customer":{"phone":"+8613800138000","email":"li@example.com"},"currency":"CNY","items":[{"sku":"SKU-1","quantity":2,"unit_price_cents":1299}],"note":"请放门口"}"#
        let expected = NewOrder(
            customer: Customer(phone: "+8613800138000", email: "li@example.com"),
            currency: "CNY",
            items: [OrderItem(sku: "SKU-1", quantity: 2, unitPriceCents: 1299)],
            note: "请放门口",
            totalCents: 2598
        )
        #expect(try validate(body) == expected)
    }

    @Test func optionalFieldsMayBeAbsentOrNull() throws {
        let absent = try validate(order(customer: customer()))
        #expect(absent.customer.email == nil)
        #expect(absent.note == nil)
        let null = try validate(order(customer: customer(email: "null"), note: "null"))
        #expect(null == absent)
    }

    @Test func memberOrderDoesNotMatter() throws {
        let body = #"{"note":"n","items":[{"unit_price_cents":5,"quantity":3,"sku":"a"}],"currency":"EUR","customer":{"email":"a@b.co","phone":"+4915112345678"}}"#
        let accepted = try validate(body)
        #expect(accepted.items == [OrderItem(sku: "a", quantity: 3, unitPriceCents: 5)])
        #expect(accepted.totalCents == 15)
        #expect(accepted.customer == Customer(phone: "+4915112345678", email: "a@b.co"))
    }

    @Test func acceptsBoundaryValues() throws {
        let items = (0..<100).map { i in item(sku: "\"\(String(repeating: "a", count: 63))\(i % 10)\"", quantity: i == 0 ? "1000" : "1", price: i == 0 ? "0" : "1000000000000") }
        let note = "\"" + String(repeating: "é", count: 500) + "\""
        let accepted = try validate(order(
            customer: customer(phone: #""+12345678""#, email: "\"\(String(repeating: "x", count: 64))@example.com\""),
            currency: #""XCG""#, items: "[" + items.joined(separator: ",") + "]", note: note))
        #expect(accepted.items.count == 100)
        #expect(accepted.totalCents == 99 * 1_000_000_000_000)
        #expect(accepted.note?.unicodeScalars.count == 500)
        _ = try validate(order(customer: customer(phone: #""+123456789012345""#)))
    }

    static let badOrders: [BadOrderCase] = [
        // The body as a whole
        BadOrderCase("top level is an array", "[]", [("", "must be a JSON object")]),
        BadOrderCase("top level is a string", #""order""#, [("", "must be a JSON object")]),
        BadOrderCase("top level is null", "null", [("", "must be a JSON object")]),
        BadOrderCase("empty object", "{}", [("customer", M.required), ("currency", M.required), ("items", M.required)]),
        BadOrderCase("all null", #"{"customer":null,"currency":null,"items":null,"note":null}"#,
                     [("customer", M.required), ("currency", M.required), ("items", M.required)]),
        BadOrderCase("unknown top-level field", order(extra: #""coupon":"FREE""#), [("coupon", M.unknown)]),
        BadOrderCase("unknown fields keep document order", order(extra: #""z":1,"a":2,"total_cents":3"#),
                     [("z", M.unknown), ("a", M.unknown), ("total_cents", M.unknown)]),
        // customer
        BadOrderCase("customer is a string", order(customer: #""li""#), [("customer", M.object)]),
        BadOrderCase("customer is an array", order(customer: "[]"), [("customer", M.object)]),
        BadOrderCase("customer without phone", order(customer: "{}"), [("customer.phone", M.required)]),
        BadOrderCase("phone is a number", order(customer: customer(phone: "8613800138000")), [("customer.phone", M.string)]),
        BadOrderCase("phone without plus", order(customer: customer(phone: #""8613800138000""#)), [("customer.phone", M.phone)]),
        BadOrderCase("phone starting with 0", order(customer: customer(phone: #""+0613800138000""#)), [("customer.phone", M.phone)]),
        BadOrderCase("phone too short", order(customer: customer(phone: #""+1234567""#)), [("customer.phone", M.phone)]),
        BadOrderCase("phone too long", order(customer: customer(phone: #""+1234567890123456""#)), [("customer.phone", M.phone)]),
        BadOrderCase("phone with spaces", order(customer: customer(phone: #""+86 138 0013 8000""#)), [("customer.phone", M.phone)]),
        BadOrderCase("phone with full-width digits", order(customer: customer(phone: #""+８６１３８００１３８０００""#)), [("customer.phone", M.phone)]),
        BadOrderCase("phone with escaped NUL", order(customer: customer(phone: #""+8613800138000\u0000""#)), [("customer.phone", M.nul)]),
        BadOrderCase("empty phone", order(customer: customer(phone: #""""#)), [("customer.phone", M.phone)]),
        BadOrderCase("email without @", order(customer: customer(email: #""li.example.com""#)), [("customer.email", M.email)]),
        BadOrderCase("email with two @", order(customer: customer(email: #""li@x@example.com""#)), [("customer.email", M.email)]),
        BadOrderCase("email domain without dot", order(customer: customer(email: #""li@localhost""#)), [("customer.email", M.email)]),
        BadOrderCase("email with empty local part", order(customer: customer(email: #""@example.com""#)), [("customer.email", M.email)]),
        BadOrderCase("email local part of 65", order(customer: customer(email: "\"\(String(repeating: "a", count: 65))@example.com\"")), [("customer.email", M.email)]),
        BadOrderCase("email with a space", order(customer: customer(email: #""li @example.com""#)), [("customer.email", M.email)]),
        BadOrderCase("email with a tab escape", order(customer: customer(email: #""li\t@example.com""#)), [("customer.email", M.email)]),
        BadOrderCase("email with bidi override", order(customer: customer(email: #""li\u202E@example.com""#)), [("customer.email", M.email)]),
        BadOrderCase("email domain ends with dot", order(customer: customer(email: #""li@example.""#)), [("customer.email", M.email)]),
        BadOrderCase("email domain with double dot", order(customer: customer(email: #""li@example..com""#)), [("customer.email", M.email)]),
        BadOrderCase("email of 255 bytes", order(customer: customer(email: "\"a@\(String(repeating: "b", count: 249)).com\"")), [("customer.email", M.emailLength)]),
        BadOrderCase("email is a number", order(customer: customer(email: "42")), [("customer.email", M.string)]),
        BadOrderCase("email with NUL", order(customer: customer(email: #""li@example.com\u0000""#)), [("customer.email", M.nul)]),
        BadOrderCase("unknown customer field", order(customer: customer(extra: #""fax":"+861234""#)), [("customer.fax", M.unknown)]),
        BadOrderCase("customer problems in schema order", order(customer: #"{"fax":1,"email":"x","phone":"1"}"#),
                     [("customer.phone", M.phone), ("customer.email", M.email), ("customer.fax", M.unknown)]),
        // currency
        BadOrderCase("currency lower case", order(currency: #""cny""#), [("currency", M.currencyFormat)]),
        BadOrderCase("currency too long", order(currency: #""CNYY""#), [("currency", M.currencyFormat)]),
        BadOrderCase("currency empty", order(currency: #""""#), [("currency", M.currencyFormat)]),
        BadOrderCase("currency numeric code", order(currency: "156"), [("currency", M.string)]),
        BadOrderCase("currency not a code", order(currency: #""ABC""#), [("currency", M.currencyInactive)]),
        BadOrderCase("currency withdrawn ANG", order(currency: #""ANG""#), [("currency", M.currencyInactive)]),
        BadOrderCase("currency withdrawn BGN", order(currency: #""BGN""#), [("currency", M.currencyInactive)]),
        BadOrderCase("currency with NUL", order(currency: #""CN\u0000""#), [("currency", M.nul)]),
        // items
        BadOrderCase("items is an object", order(items: validItem), [("items", M.array)]),
        BadOrderCase("no items", order(items: "[]"), [("items", M.items)]),
        BadOrderCase("101 items", order(items: "[" + Array(repeating: validItem, count: 101).joined(separator: ",") + "]"), [("items", M.items)]),
        BadOrderCase("item is a number", order(items: "[1]"), [("items[0]", M.object)]),
        BadOrderCase("empty item", order(items: "[{}]"),
                     [("items[0].sku", M.required), ("items[0].quantity", M.required), ("items[0].unit_price_cents", M.required)]),
        BadOrderCase("null item fields", order(items: #"[{"sku":null,"quantity":null,"unit_price_cents":null}]"#),
                     [("items[0].sku", M.required), ("items[0].quantity", M.required), ("items[0].unit_price_cents", M.required)]),
        BadOrderCase("empty sku", order(items: "[\(item(sku: #""""#))]"), [("items[0].sku", M.sku)]),
        BadOrderCase("sku with space", order(items: "[\(item(sku: #""SKU 1""#))]"), [("items[0].sku", M.sku)]),
        BadOrderCase("sku of 65", order(items: "[\(item(sku: "\"\(String(repeating: "A", count: 65))\""))]"), [("items[0].sku", M.sku)]),
        BadOrderCase("sku non-ASCII", order(items: "[\(item(sku: #""straße""#))]"), [("items[0].sku", M.sku)]),
        BadOrderCase("sku is a number", order(items: "[\(item(sku: "12"))]"), [("items[0].sku", M.string)]),
        BadOrderCase("sku with NUL", order(items: "[\(item(sku: #""A\u0000""#))]"), [("items[0].sku", M.nul)]),
        BadOrderCase("quantity 0", order(items: "[\(item(quantity: "0"))]"), [("items[0].quantity", M.quantity)]),
        BadOrderCase("quantity 1001", order(items: "[\(item(quantity: "1001"))]"), [("items[0].quantity", M.quantity)]),
        BadOrderCase("quantity negative", order(items: "[\(item(quantity: "-1"))]"), [("items[0].quantity", M.quantity)]),
        BadOrderCase("quantity 2.0", order(items: "[\(item(quantity: "2.0"))]"), [("items[0].quantity", M.quantity)]),
        BadOrderCase("quantity 1e3", order(items: "[\(item(quantity: "1e3"))]"), [("items[0].quantity", M.quantity)]),
        BadOrderCase("quantity as string", order(items: "[\(item(quantity: #""2""#))]"), [("items[0].quantity", M.quantity)]),
        BadOrderCase("quantity true", order(items: "[\(item(quantity: "true"))]"), [("items[0].quantity", M.quantity)]),
        BadOrderCase("quantity beyond Int64", order(items: "[\(item(quantity: "99999999999999999999"))]"), [("items[0].quantity", M.quantity)]),
        BadOrderCase("price negative", order(items: "[\(item(price: "-1"))]"), [("items[0].unit_price_cents", M.price)]),
        BadOrderCase("price fractional", order(items: "[\(item(price: "1299.5"))]"), [("items[0].unit_price_cents", M.price)]),
        BadOrderCase("price above max", order(items: "[\(item(price: "1000000000001"))]"), [("items[0].unit_price_cents", M.price)]),
        BadOrderCase("price beyond Int64", order(items: "[\(item(price: "99999999999999999999"))]"), [("items[0].unit_price_cents", M.price)]),
        BadOrderCase("price as array", order(items: "[\(item(price: "[1299]"))]"), [("items[0].unit_price_cents", M.price)]),
        BadOrderCase("unknown item field", order(items: "[\(item(extra: #""color":"red""#))]"), [("items[0].color", M.unknown)]),
        BadOrderCase("problems in several items", order(items: "[\(validItem),\(item(quantity: "0")),\(item(sku: #""a b""#, extra: #""x":1"#)),2]"),
                     [("items[1].quantity", M.quantity), ("items[2].sku", M.sku), ("items[2].x", M.unknown), ("items[3]", M.object)]),
        // note
        BadOrderCase("note of 501 characters", order(note: "\"" + String(repeating: "字", count: 501) + "\""), [("note", M.note)]),
        BadOrderCase("note of 501 scalars forming fewer graphemes", order(note: "\"" + String(repeating: "e\u{301}", count: 250) + "x\""), [("note", M.note)]),
        BadOrderCase("note is a number", order(note: "42"), [("note", M.string)]),
        BadOrderCase("note with NUL", order(note: #""leave at door\u0000""#), [("note", M.nul)]),
        // Totals
        BadOrderCase("total above the maximum",
                     order(items: "[" + Array(repeating: item(quantity: "1000", price: "1000000000000"), count: 2).joined(separator: ",") + "]"),
                     [("items", M.total)]),
        // Everything at once, in schema order then unknown fields
        BadOrderCase("every section wrong",
                     #"{"extra":true,"note":7,"items":[{"sku":"","quantity":0,"unit_price_cents":-1,"size":"L"}],"currency":"usd","customer":{"email":"nope","phone":"+1","fax":""}}"#,
                     [("customer.phone", M.phone), ("customer.email", M.email), ("customer.fax", M.unknown),
                      ("currency", M.currencyFormat),
                      ("items[0].sku", M.sku), ("items[0].quantity", M.quantity), ("items[0].unit_price_cents", M.price), ("items[0].size", M.unknown),
                      ("note", M.string), ("extra", M.unknown)]),
    ]

    @Test(arguments: badOrders)
    func reportsExactlyTheseProblems(_ testCase: BadOrderCase) throws {
        #expect(try problems(testCase.body) == testCase.problems)
    }

    @Test func hasAtLeastThirtyBadOrders() {
        #expect(Self.badOrders.count >= 30)
    }

    @Test func fieldsAreMatchedByteForByte() throws {
        // "s\u212Au" (KELVIN SIGN) is canonically "sKu", which is still not "sku"; and "cust\u006fmer" is "customer".
        let body = order(items: #"[{"s\u212Au":"A","sku":"A","quantity":1,"unit_price_cents":1}]"#)
        #expect(try problems(body) == [FieldProblem(field: "items[0].s\u{212A}u", message: M.unknown)])
        _ = try validate(#"{"cust\u006fmer":{"phone":"+8613800138000"},"currency":"CNY","items":[{"sku":"A","quantity":1,"unit_price_cents":1}]}"#)
    }

    @Test func handBuiltDuplicatesAreReported() {
        let value = JSONValue.object([
            (key: "customer", value: .object([(key: "phone", value: .string("+8613800138000"))])),
            (key: "currency", value: .string("CNY")),
            (key: "currency", value: .string("EUR")),
            (key: "items", value: .array([.object([(key: "sku", value: .string("A")), (key: "quantity", value: .number(JSONNumber(1))), (key: "unit_price_cents", value: .number(JSONNumber(1)))])])),
        ])
        #expect(throws: OrderValidationError(problems: [FieldProblem(field: "currency", message: "appears more than once")])) {
            try OrderValidator.validate(value)
        }
    }

    @Test func parseAndValidateSeparatesSyntaxFromValidation() {
        #expect(throws: OrderBodyError.syntax(JSONSyntaxError(.duplicateKey, offset: 13, message: #"duplicate key "note" in object"#))) {
            try OrderValidator.parseAndValidate(Array(#"{"note":"a", "note":"b"}"#.utf8))
        }
        #expect(throws: OrderBodyError.invalid(OrderValidationError(problems: [FieldProblem(field: "", message: "must be a JSON object")]))) {
            try OrderValidator.parseAndValidate(Array("[]".utf8))
        }
        #expect(throws: Never.self) {
            try OrderValidator.parseAndValidate(Array(order().utf8))
        }
    }

    @Test func errorDescriptions() {
        let error = OrderValidationError(problems: [
            FieldProblem(field: "items[2].quantity", message: "must be an integer from 1 to 1000"),
            FieldProblem(field: "", message: "must be a JSON object"),
        ])
        #expect(error.description == "items[2].quantity must be an integer from 1 to 1000; must be a JSON object")
    }

    struct PhoneCase: Sendable, CustomTestStringConvertible {
        let phone: String
        let valid: Bool
        var testDescription: String { phone }
    }

    static let phones: [PhoneCase] = [
        PhoneCase(phone: "+8613800138000", valid: true),
        PhoneCase(phone: "+12345678", valid: true),
        PhoneCase(phone: "+123456789012345", valid: true),
        PhoneCase(phone: "+1234567", valid: false),
        PhoneCase(phone: "+1234567890123456", valid: false),
        PhoneCase(phone: "+0123456789", valid: false),
        PhoneCase(phone: "++123456789", valid: false),
        PhoneCase(phone: "+1234-5678", valid: false),
        PhoneCase(phone: "+", valid: false),
        PhoneCase(phone: "", valid: false),
        PhoneCase(phone: "+١٢٣٤٥٦٧٨٩", valid: false),
    ]

    @Test(arguments: phones)
    func phoneRule(_ testCase: PhoneCase) {
        #expect((OrderValidator.phoneProblem(testCase.phone) == nil) == testCase.valid)
    }

    struct EmailCase: Sendable, CustomTestStringConvertible {
        let email: String
        let valid: Bool
        var testDescription: String { email }
    }

    static let emails: [EmailCase] = [
        EmailCase(email: "li@example.com", valid: true),
        EmailCase(email: "a.b+tag@mail.example.co.uk", valid: true),
        EmailCase(email: "用户@例子.中国", valid: true),
        EmailCase(email: "\(String(repeating: "a", count: 64))@example.com", valid: true),
        EmailCase(email: "a@\(String(repeating: "b", count: 248)).com", valid: true),  // 254 bytes
        EmailCase(email: "a@\(String(repeating: "b", count: 249)).com", valid: false), // 255 bytes
        EmailCase(email: "li@example", valid: false),
        EmailCase(email: "li@.example.com", valid: false),
        EmailCase(email: "li@", valid: false),
        EmailCase(email: "li\u{7F}@example.com", valid: false),
        EmailCase(email: "li\u{85}@example.com", valid: false),
        EmailCase(email: "li\u{3000}@example.com", valid: false),
        EmailCase(email: "li@exa mple.com", valid: false),
    ]

    @Test(arguments: emails)
    func emailRule(_ testCase: EmailCase) {
        #expect((OrderValidator.emailProblem(testCase.email) == nil) == testCase.valid)
    }
}

// MARK: - Totals

@Suite struct OrderValidationTotalTests {
    @Test func totalIsTheSumOfLineTotals() throws {
        let body = order(items: "[" + [item(sku: #""A""#, quantity: "2", price: "1299"), item(sku: #""B""#, quantity: "3", price: "100"), item(sku: #""C""#, quantity: "1000", price: "0")].joined(separator: ",") + "]")
        #expect(try validate(body).totalCents == 2 * 1299 + 3 * 100)
    }

    @Test func totalAtTheMaximumIsAccepted() throws {
        let body = order(items: "[\(item(quantity: "1000", price: "1000000000000"))]")
        #expect(try validate(body).totalCents == OrderValidator.maxTotalCents)
    }

    @Test func totalOneCentAboveTheMaximumIsRefused() throws {
        let body = order(items: "[\(item(quantity: "1000", price: "1000000000000")),\(item(quantity: "1", price: "1"))]")
        #expect(try problems(body) == [FieldProblem(field: "items", message: M.total)])
    }

    @Test func largestPossibleOrderDoesNotOverflowButIsRefused() throws {
        let body = order(items: "[" + Array(repeating: item(quantity: "1000", price: "1000000000000"), count: 100).joined(separator: ",") + "]")
        #expect(try problems(body) == [FieldProblem(field: "items", message: M.total)])
    }

    struct TotalCase: Sendable, CustomTestStringConvertible {
        let name: String
        let items: [OrderItem]
        let total: Int64?
        var testDescription: String { name }
    }

    static let totals: [TotalCase] = [
        TotalCase(name: "empty", items: [], total: 0),
        TotalCase(name: "one line", items: [OrderItem(sku: "A", quantity: 2, unitPriceCents: 1299)], total: 2598),
        TotalCase(name: "exactly Int64.max", items: [OrderItem(sku: "A", quantity: 1, unitPriceCents: .max)], total: .max),
        TotalCase(name: "line overflows", items: [OrderItem(sku: "A", quantity: 2, unitPriceCents: Int64.max / 2 + 1)], total: nil),
        TotalCase(name: "sum overflows", items: [OrderItem(sku: "A", quantity: 1, unitPriceCents: .max), OrderItem(sku: "B", quantity: 1, unitPriceCents: 1)], total: nil),
        TotalCase(name: "huge quantity", items: [OrderItem(sku: "A", quantity: .max, unitPriceCents: 2)], total: nil),
        TotalCase(name: "sum reaches max exactly", items: [OrderItem(sku: "A", quantity: 1, unitPriceCents: .max - 5), OrderItem(sku: "B", quantity: 5, unitPriceCents: 1)], total: .max),
    ]

    @Test(arguments: totals)
    func totalCentsChecksOverflow(_ testCase: TotalCase) {
        #expect(OrderValidator.totalCents(of: testCase.items) == testCase.total)
    }
}

// MARK: - Currencies

@Suite struct OrderValidationCurrencyTests {
    @Test func listHasTheActiveCodes() {
        let codes = OrderValidator.activeCurrencyCodes
        #expect(codes.count == 178)
        for code in ["CNY", "USD", "EUR", "JPY", "GBP", "CHF", "HKD", "XCG", "ZWG", "SLE", "VED", "VES", "XAD", "MRU", "STN"] {
            #expect(codes.contains(code), "\(code)")
        }
        for code in ["ANG", "BGN", "CUC", "HRK", "SLL", "ZWL", "MRO", "STD", "VEF", "BYR", "LTL", "EEK", "DEM", "cny"] {
            #expect(!codes.contains(code), "\(code)")
        }
        #expect(codes.allSatisfy { $0.utf8.count == 3 && $0.utf8.allSatisfy { (65...90).contains($0) } })
    }

    @Test(arguments: ["CNY", "USD", "EUR", "XCG", "ZWG"])
    func acceptsActiveCode(_ code: String) throws {
        #expect(try validate(order(currency: "\"\(code)\"")).currency == code)
    }
}

/// openapi.yaml's `CurrencyCode` enum is the validator's table, so generated clients refuse what orderd refuses.
@Suite struct CurrencyEnumTests {
    @Test func theSpecListsExactlyTheActiveCodes() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let spec = try String(contentsOf: repo.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        let start = try #require(spec.range(of: "    CurrencyCode:\n"))
        let enumStart = try #require(spec.range(of: "      enum: [", range: start.upperBound..<spec.endIndex))
        let enumEnd = try #require(spec.range(of: "]", range: enumStart.upperBound..<spec.endIndex))
        let listed = spec[enumStart.upperBound..<enumEnd.lowerBound]
            .split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
        #expect(listed.count == Set(listed).count)
        #expect(Set(listed) == ISO4217.activeCodes, "run scripts/openapi-currencies.sh")
    }
}
