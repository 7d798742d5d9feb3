import OrderdOrders
import OrderdStore
import OrderdSupport

/// The table `orderd tasks list` prints: one task per line, columns aligned.
package enum TaskTable {
    package static func render(_ records: [TaskRecord], nowMillis: Int64) -> String {
        var rows = [["TASK", "STATE", "ATTEMPTS", "CREATED", "NEXT/FINISHED", "LEASE", "LAST ERROR"]]
        for record in records {
            let when: String
            switch record.state {
            case .pending: when = record.availableAtMillis <= nowMillis ? "due" : WallClock.rfc3339(millis: record.availableAtMillis)
            case .done, .dead: when = record.finishedAtMillis.map(WallClock.rfc3339(millis:)) ?? "-"
            }
            var lease = "-"
            if let owner = record.leaseOwner, let until = record.leaseUntilMillis {
                lease = until < nowMillis ? "\(owner) (expired)" : owner
            }
            rows.append([
                record.id, record.state.rawValue, String(record.attempts),
                WallClock.rfc3339(millis: record.createdAtMillis), when, lease, record.lastError ?? "",
            ])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
