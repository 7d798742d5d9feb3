import ArgumentParser
import Foundation
import OrderdConfig
import OrderdOrders
import OrderdStore
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

extension Orderd {
    struct Orders: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Look orders up in the store (read-only; works while orderd runs). Phone and email are masked unless --show-pii.",
            subcommands: [Show.self, List.self]
        )

        struct PIIOption: ParsableArguments {
            @Flag(name: .customLong("show-pii"), help: "Show the buyer's phone and email in clear (this command's output is then personal data).")
            var showPII = false
        }

        /// The order as shown: contact details masked unless asked for.
        static func shown(_ record: OrderRecord, showPII: Bool) -> StoredOrder {
            var order = record.order
            if !showPII {
                order.order.customer.phone = Redact.phone(order.order.customer.phone)
                order.order.customer.email = order.order.customer.email.map(Redact.email)
            }
            return order
        }

        /// `GET /orders/{id}`'s JSON with `created_by` added.
        static func json(_ record: OrderRecord, showPII: Bool) throws -> String {
            let body = OrderJSON.fullBody(shown(record, showPII: showPII))
            guard var object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return "" }
            object["created_by"] = record.createdBy ?? NSNull()
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "One order as JSON, with the API key id that created it.")

            @OptionGroup var options: ConfigOption
            @OptionGroup var pii: PIIOption
            @Argument(help: "The order id (as in the Location header).")
            var id: String

            func run() throws {
                let store = try openAdministration(options, writable: false)
                defer { store.close() }
                guard let record = try store.orderRecord(id: id) else {
                    printError("orderd: no order with id '\(id.prefix(64))'")
                    throw ExitStatus.data
                }
                print(try Orders.json(record, showPII: pii.showPII))
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Orders by creation time, a page at a time: the last line says how to get the next page.")

            @OptionGroup var options: ConfigOption
            @OptionGroup var pii: PIIOption
            @Option(name: .long, help: "Only orders created within this long: 30m, 6h, 2d (default: all).")
            var since: String?
            @Option(name: .long, help: "Start after this order id (the last one of the page before).")
            var after: String?
            @Option(name: .long, help: "At most this many orders.")
            var limit: Int = 50
            @Flag(name: .long, help: "One JSON object per line instead of the table.")
            var json = false

            func validate() throws {
                try validateSince(since)
                guard limit >= 1 && limit <= 10_000 else { throw ValidationError("--limit must be from 1 to 10000.") }
            }

            func run() throws {
                let store = try openAdministration(options, writable: false)
                defer { store.close() }
                let sinceMillis = since.flatMap(DurationText.parse).map { nowMillis() - DurationText.millis($0) }
                let records = try store.orders(createdSinceMillis: sinceMillis, afterID: after, limit: limit)
                if json {
                    for record in records { print(try Orders.json(record, showPII: pii.showPII)) }
                    return
                }
                print("id                                    created_at                total          items  phone            email                     created_by")
                for record in records {
                    let order = Orders.shown(record, showPII: pii.showPII)
                    let total = "\(order.order.totalCents) \(order.order.currency)"
                    print([
                        order.id, WallClock.rfc3339(millis: order.createdAtMillis).padding(toLength: 24, withPad: " ", startingAt: 0),
                        total.padding(toLength: 14, withPad: " ", startingAt: 0),
                        String(order.order.items.count).padding(toLength: 6, withPad: " ", startingAt: 0),
                        order.order.customer.phone.padding(toLength: 16, withPad: " ", startingAt: 0),
                        (order.order.customer.email ?? "-").padding(toLength: 25, withPad: " ", startingAt: 0),
                        record.createdBy ?? "-",
                    ].joined(separator: "  "))
                }
                if records.count == limit, let last = records.last {
                    print("more: orderd orders list --after \(last.order.id)\(since.map { " --since \($0)" } ?? "") --limit \(limit)")
                } else {
                    print("\(records.count) orders")
                }
            }
        }
    }
}
