import OrderdSupport

/// One problem with one field of an order body, e.g. `items[2].quantity` "must be an integer from 1 to 1000".
package struct FieldProblem: Sendable, Hashable, CustomStringConvertible {
    /// Path of the field: `customer.phone`, `items[0].sku`, `note`, the path of an unknown field such as
    /// `customer.fax`, or the empty string for the body as a whole.
    package var field: String
    /// What is wrong, phrased to follow the field name: "is required", "must be a string", …
    package var message: String

    /// Creates a problem report for `field`.
    package init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    /// `items[2].quantity must be an integer from 1 to 1000`; just the message for the whole body.
    package var description: String { field.isEmpty ? message : "\(field) \(message)" }
}

/// A syntactically valid body that is not an acceptable order. Holds every problem found, never none.
package struct OrderValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// All problems, in a stable order: at each object level the known fields in schema order (customer,
    /// currency, items, note; phone, email; sku, quantity, unit_price_cents), then unknown fields in document order.
    package var problems: [FieldProblem]

    /// Creates the error; `problems` should not be empty.
    package init(problems: [FieldProblem]) {
        self.problems = problems
    }

    /// All problems, separated by `; `.
    package var description: String { problems.map(\.description).joined(separator: "; ") }
}

/// Why a `POST /orders` body was refused: not JSON at all, or JSON that is not a valid order.
package enum OrderBodyError: Error, Sendable, Equatable {
    /// The body is not valid JSON (an HTTP 400 with the byte offset).
    case syntax(JSONSyntaxError)
    /// The body is JSON but not a valid order (an HTTP 422 with every problem).
    case invalid(OrderValidationError)
}

/// Turns the parsed body of `POST /orders` into a `NewOrder`, or reports every problem with it.
///
/// Accepted shape, exactly (no other fields anywhere; `null` means absent):
/// `{"customer":{"phone":"+8613800138000","email":"li@example.com"},"currency":"CNY",
///   "items":[{"sku":"SKU-1","quantity":2,"unit_price_cents":1299}],"note":"…"}`
///
/// - `customer.phone`: required, E.164: `+`, then 8–15 digits, the first 1–9.
/// - `customer.email`: optional; one `@`, local part 1–64 bytes, domain with a dot (not at either end, no
///   `..`), at most 254 bytes in all, no spaces, no control or invisible format characters.
/// - `currency`: required, three upper-case letters and an active ISO 4217 code.
/// - `items`: required, 1–100 objects: `sku` 1–64 of `[A-Za-z0-9._-]`, `quantity` integer 1–1000,
///   `unit_price_cents` integer 0–10^12. Integers must be written as integers: `2.0` and `1e3` are refused.
///   An integer field has one message naming its type and range (`must be an integer from 1 to 1000`) for
///   every failure — wrong type, fraction or exponent, out of range, beyond Int64 — since it tells the client
///   all it needs; `JSONNumber` keeps the distinction should a caller want it.
/// - `note`: optional, at most 500 Unicode scalar values (not grapheme clusters: their count depends on the
///   Unicode version, and scalars are what SQLite's `length()` counts).
/// - No string field may contain U+0000 (`\u0000` is valid JSON, but C code and logs downstream would cut it).
/// - The total, sum of quantity × unit_price_cents, is computed with overflow checks and may not exceed
///   `maxTotalCents`; a violation is reported on `items`.
package enum OrderValidator {
    /// Most items one order may hold.
    package static let maxItems = 100
    /// Allowed `quantity` per item.
    package static let quantityRange: ClosedRange<Int64> = 1...1000
    /// Allowed `unit_price_cents` per item (10^12 cents: ten billion currency units).
    package static let unitPriceCentsRange: ClosedRange<Int64> = 0...1_000_000_000_000
    /// Largest accepted order total in cents (10^15).
    package static let maxTotalCents: Int64 = 1_000_000_000_000_000
    /// Longest `sku`, in characters (all ASCII).
    package static let maxSKULength = 64
    /// Longest `note`, in Unicode scalar values.
    package static let maxNoteLength = 500
    /// Longest `email`, in UTF-8 bytes (RFC 5321 path limit).
    package static let maxEmailLength = 254
    /// Longest local part (before the `@`) of `email`, in UTF-8 bytes.
    package static let maxEmailLocalPartLength = 64
    /// The active ISO 4217 codes accepted as `currency` (see `ISO4217`).
    package static let activeCurrencyCodes: Set<String> = ISO4217.activeCodes

    /// Parses and validates a request body in one step.
    package static func parseAndValidate(_ body: [UInt8]) throws(OrderBodyError) -> NewOrder {
        let value: JSONValue
        do throws(JSONSyntaxError) {
            value = try JSONParser.parse(body)
        } catch {
            throw .syntax(error)
        }
        do throws(OrderValidationError) {
            return try validate(value)
        } catch {
            throw .invalid(error)
        }
    }

    /// Validates a parsed body.
    /// - Throws: `OrderValidationError` with every problem found.
    package static func validate(_ body: JSONValue) throws(OrderValidationError) -> NewOrder {
        var check = Check()
        guard case .object(let members) = body else {
            throw OrderValidationError(problems: [FieldProblem(field: "", message: "must be a JSON object")])
        }
        let fields = check.fields(of: members, at: "", known: Check.FieldNames.order)

        var customer: Customer? = nil
        switch fields.values[0] {
        case nil, .null?:
            check.problem("customer", Message.required)
        case .object(let customerMembers)?:
            customer = check.customer(customerMembers)
        case .some:
            check.problem("customer", Message.mustBeObject)
        }

        let currency = check.currency(fields.values[1], at: "currency")
        let items = check.items(fields.values[2], at: "items")
        let note = check.optionalString(fields.values[3], at: "note", problem: noteProblem)
        check.problems += fields.unknown

        guard check.problems.isEmpty, let customer, let currency, let items, let note else {
            throw OrderValidationError(problems: check.problems)
        }
        return NewOrder(customer: customer, currency: currency, items: items.items, note: note, totalCents: items.total)
    }

    /// Sum of quantity × unit price over `items`, or nil if any product or the running sum overflows `Int64`.
    package static func totalCents(of items: [OrderItem]) -> Int64? {
        var total: Int64 = 0
        for item in items {
            let (line, lineOverflow) = Int64(item.quantity).multipliedReportingOverflow(by: item.unitPriceCents)
            if lineOverflow { return nil }
            let (sum, sumOverflow) = total.addingReportingOverflow(line)
            if sumOverflow { return nil }
            total = sum
        }
        return total
    }

    // MARK: - Field rules

    /// The problem with a phone number, or nil when it is E.164: `+`, 8–15 digits, the first 1–9.
    static func phoneProblem(_ phone: String) -> String? {
        let utf8 = phone.utf8
        guard (9...16).contains(utf8.count), utf8.first == UInt8(ascii: "+") else { return Message.phone }
        var isFirst = true
        for byte in utf8.dropFirst() {
            let lowest = isFirst ? UInt8(ascii: "1") : UInt8(ascii: "0")
            guard byte >= lowest, byte <= UInt8(ascii: "9") else { return Message.phone }
            isFirst = false
        }
        return nil
    }

    /// The problem with an email address, or nil when it passes the sanity check.
    static func emailProblem(_ email: String) -> String? {
        if email.utf8.count > maxEmailLength { return "must be at most \(maxEmailLength) bytes long" }
        var atCount = 0
        for scalar in email.unicodeScalars {
            // Spaces, controls (C0, DEL, C1) and invisible format characters such as U+202E (bidi override).
            // Unicode property look-ups are slow, so ASCII is decided by value alone.
            if scalar.value < 0x80 {
                if scalar.value <= 0x20 || scalar.value == 0x7F { return Message.email }
                if scalar.value == 0x40 { atCount += 1 }
            } else if scalar.value <= 0x9F || scalar.properties.isWhitespace || scalar.properties.generalCategory == .format {
                return Message.email
            }
        }
        guard atCount == 1, let at = email.utf8.firstIndex(of: UInt8(ascii: "@")) else { return Message.email }
        let local = email.utf8[..<at]
        let domain = email.utf8[email.utf8.index(after: at)...]
        guard (1...maxEmailLocalPartLength).contains(local.count),
              domain.contains(UInt8(ascii: ".")),
              domain.first != UInt8(ascii: "."), domain.last != UInt8(ascii: "."),
              !containsDoubleDot(domain)
        else { return Message.email }
        return nil
    }

    private static func containsDoubleDot(_ bytes: Substring.UTF8View) -> Bool {
        var previousWasDot = false
        for byte in bytes {
            let isDot = byte == UInt8(ascii: ".")
            if isDot && previousWasDot { return true }
            previousWasDot = isDot
        }
        return false
    }

    /// The problem with a currency code, or nil when it is an active ISO 4217 code.
    static func currencyProblem(_ code: String) -> String? {
        let utf8 = code.utf8
        guard utf8.count == 3, utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            return "must be a three-letter upper-case ISO 4217 currency code"
        }
        return activeCurrencyCodes.contains(code) ? nil : "is not an active ISO 4217 currency code"
    }

    /// The problem with a SKU, or nil when it is 1–64 characters of `[A-Za-z0-9._-]`.
    static func skuProblem(_ sku: String) -> String? {
        let utf8 = sku.utf8
        guard (1...maxSKULength).contains(utf8.count), utf8.allSatisfy(isSKUByte) else {
            return "must be 1 to \(maxSKULength) characters of A-Z, a-z, 0-9, '.', '_' and '-'"
        }
        return nil
    }

    private static func isSKUByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// The problem with a note, or nil when it is at most 500 Unicode scalars.
    static func noteProblem(_ note: String) -> String? {
        // Cheap bound first: a string of ≤ 500 UTF-8 bytes has ≤ 500 scalars.
        if note.utf8.count <= maxNoteLength { return nil }
        return note.unicodeScalars.count > maxNoteLength ? "must be at most \(maxNoteLength) characters long" : nil
    }

    enum Message {
        static let required = "is required"
        static let unknown = "is not a known field"
        static let duplicate = "appears more than once"
        static let mustBeObject = "must be an object"
        static let mustBeArray = "must be an array"
        static let mustBeString = "must be a string"
        static let nul = "must not contain the NUL character (U+0000)"
        static let phone = "must be an E.164 phone number: '+' and 8 to 15 digits, the first not 0"
        static let email = "must be an email address like name@example.com"
        static let items = "must hold 1 to \(OrderValidator.maxItems) items"
        static let quantity = "must be an integer from \(quantityRange.lowerBound) to \(quantityRange.upperBound)"
        static let unitPrice = "must be an integer from \(unitPriceCentsRange.lowerBound) to \(unitPriceCentsRange.upperBound)"
        static let totalTooLarge = "make an order total above the maximum of \(maxTotalCents) cents"
        static let totalOverflow = "make an order total that overflows"
    }
}

/// The problems found so far, and the helpers that add to them.
private struct Check {
    var problems: [FieldProblem] = []

    mutating func problem(_ field: String, _ message: String) {
        problems.append(FieldProblem(field: field, message: message))
    }

    enum FieldNames {
        static let order = ["customer", "currency", "items", "note"]
        static let customer = ["phone", "email"]
        static let item = ["sku", "quantity", "unit_price_cents"]
    }

    /// The values of the `known` fields (in their order), and problems for all other members.
    struct Fields {
        var values: [JSONValue?]
        var unknown: [FieldProblem]
    }

    /// `path` is evaluated only when there is a problem to report.
    func fields(of members: [(key: String, value: JSONValue)], at path: @autoclosure () -> String, known: [String]) -> Fields {
        var result = Fields(values: Array(repeating: nil, count: known.count), unknown: [])
        for member in members {
            func field() -> String {
                let parent = path()
                return parent.isEmpty ? member.key : "\(parent).\(member.key)"
            }
            // Byte-wise, not String == alone: a key that is merely canonically equivalent to a field name (say
            // with U+212A KELVIN SIGN for "K") is not that field. Equal UTF-8 length plus == is byte equality
            // here, since the names are ASCII and any non-ASCII equivalent of ASCII text is longer.
            let key = member.key
            if let index = known.firstIndex(where: { $0.utf8.count == key.utf8.count && $0 == key }) {
                // JSONParser never yields duplicates; a hand-built JSONValue may.
                if result.values[index] != nil {
                    result.unknown.append(FieldProblem(field: field(), message: OrderValidator.Message.duplicate))
                } else {
                    result.values[index] = member.value
                }
            } else {
                result.unknown.append(FieldProblem(field: field(), message: OrderValidator.Message.unknown))
            }
        }
        return result
    }

    mutating func customer(_ members: [(key: String, value: JSONValue)]) -> Customer? {
        let fields = fields(of: members, at: "customer", known: FieldNames.customer)
        let phone = requiredString(fields.values[0], at: "customer.phone", problem: OrderValidator.phoneProblem)
        let email = optionalString(fields.values[1], at: "customer.email", problem: OrderValidator.emailProblem)
        problems += fields.unknown
        guard let phone, let email else { return nil }
        return Customer(phone: phone, email: email)
    }

    mutating func currency(_ value: JSONValue?, at field: String) -> String? {
        requiredString(value, at: field, problem: OrderValidator.currencyProblem)
    }

    mutating func items(_ value: JSONValue?, at field: String) -> (items: [OrderItem], total: Int64)? {
        let elements: [JSONValue]
        switch value {
        case nil, .null?:
            problem(field, OrderValidator.Message.required)
            return nil
        case .array(let array)?:
            elements = array
        case .some:
            problem(field, OrderValidator.Message.mustBeArray)
            return nil
        }
        guard (1...OrderValidator.maxItems).contains(elements.count) else {
            problem(field, OrderValidator.Message.items)
            return nil
        }
        var items: [OrderItem] = []
        items.reserveCapacity(elements.count)
        var allValid = true
        for (index, element) in elements.enumerated() {
            guard case .object(let members) = element else {
                problem("\(field)[\(index)]", OrderValidator.Message.mustBeObject)
                allValid = false
                continue
            }
            if let item = item(members, at: "\(field)[\(index)]") { items.append(item) } else { allValid = false }
        }
        guard allValid else { return nil }
        guard let total = OrderValidator.totalCents(of: items) else {
            problem(field, OrderValidator.Message.totalOverflow)
            return nil
        }
        guard total <= OrderValidator.maxTotalCents else {
            problem(field, OrderValidator.Message.totalTooLarge)
            return nil
        }
        return (items, total)
    }

    /// Paths are built only for problems: string building would otherwise be most of the validator's cost.
    mutating func item(_ members: [(key: String, value: JSONValue)], at path: @autoclosure () -> String) -> OrderItem? {
        let fields = fields(of: members, at: path(), known: FieldNames.item)
        let sku = requiredString(fields.values[0], at: "\(path()).sku", problem: OrderValidator.skuProblem)
        let quantity = integer(fields.values[1], at: "\(path()).quantity", in: OrderValidator.quantityRange, message: OrderValidator.Message.quantity)
        let price = integer(fields.values[2], at: "\(path()).unit_price_cents", in: OrderValidator.unitPriceCentsRange, message: OrderValidator.Message.unitPrice)
        problems += fields.unknown
        guard let sku, let quantity, let price else { return nil }
        return OrderItem(sku: sku, quantity: Int(quantity), unitPriceCents: price)
    }

    /// A required integer in `range`. Non-integers (`2.0`, `1e3`, `"2"`), integers outside the range and
    /// integers beyond Int64 all get `message`, which states the type and the range.
    mutating func integer(_ value: JSONValue?, at field: @autoclosure () -> String, in range: ClosedRange<Int64>, message: String) -> Int64? {
        switch value {
        case nil, .null?:
            problem(field(), OrderValidator.Message.required)
            return nil
        case .number(let number)?:
            if let int = number.int64, range.contains(int) { return int }
            problem(field(), message)
            return nil
        case .some:
            problem(field(), message)
            return nil
        }
    }

    /// A required string: absent or null is "is required"; NUL is refused before `problem` runs.
    mutating func requiredString(_ value: JSONValue?, at field: @autoclosure () -> String, problem rule: (String) -> String?) -> String? {
        switch value {
        case nil, .null?:
            problem(field(), OrderValidator.Message.required)
            return nil
        case .some(let value):
            return string(value, at: field(), problem: rule)
        }
    }

    /// An optional string: absent or null gives `.some(nil)`; an invalid value gives `nil`.
    mutating func optionalString(_ value: JSONValue?, at field: @autoclosure () -> String, problem rule: (String) -> String?) -> String?? {
        switch value {
        case nil, .null?:
            return .some(nil)
        case .some(let value):
            guard let string = string(value, at: field(), problem: rule) else { return nil }
            return .some(string)
        }
    }

    private mutating func string(_ value: JSONValue, at field: @autoclosure () -> String, problem rule: (String) -> String?) -> String? {
        guard case .string(let string) = value else {
            problem(field(), OrderValidator.Message.mustBeString)
            return nil
        }
        if containsNUL(string) {
            problem(field(), OrderValidator.Message.nul)
            return nil
        }
        if let message = rule(string) {
            problem(field(), message)
            return nil
        }
        return string
    }
}

/// Whether `string` holds U+0000 (scans the contiguous UTF-8 directly when it can).
private func containsNUL(_ string: String) -> Bool {
    string.utf8.withContiguousStorageIfAvailable { $0.contains(0) } ?? string.utf8.contains(0)
}
