import ArgumentParser
import Foundation
import OrderdConfig
import OrderdFollowUps
import OrderdOrders
import OrderdStore
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// `--state`: the values ArgumentParser offers for completion.
enum TaskStateOption: String, ExpressibleByArgument, CaseIterable {
    case pending, done, dead

    var state: TaskRecord.State { TaskRecord.State(rawValue: rawValue)! }
}

/// `--kind`: the durable kinds (the outbox holds no others this orderd writes).
enum TaskKindOption: String, ExpressibleByArgument, CaseIterable {
    case sms, webhook, audit
}

extension Orderd {
    struct Tasks: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show, retry and purge follow-up tasks in the outbox (works while orderd runs).",
            subcommands: [List.self, Retry.self, Purge.self]
        )

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List tasks, oldest first (opens the database read-only).")

            @OptionGroup var options: ConfigOption
            @Flag(name: .long, help: "Only dead tasks (failed for good; retry them with `orderd tasks retry`).")
            var dead = false
            @Option(name: .long, help: "Only tasks in this state.")
            var state: TaskStateOption?
            @Option(name: .long, help: "Only tasks of this kind.")
            var kind: TaskKindOption?
            @Option(name: .long, help: "Show at most this many tasks.")
            var limit: Int = 100
            @Flag(name: .long, help: "One JSON object per line instead of the table (for jq and scripts).")
            var json = false

            func validate() throws {
                if dead, let state, state != .dead { throw ValidationError("--dead and --state \(state.rawValue) contradict each other.") }
                guard limit >= 1 else { throw ValidationError("--limit must be at least 1.") }
            }

            func run() throws {
                let outbox = try openAdministration(options, writable: false)
                defer { outbox.close() }
                let wanted = dead ? .dead : state?.state
                let records = try outbox.tasks(in: wanted, kind: kind?.rawValue, limit: limit)
                if json {
                    for record in records { print(try Self.jsonLine(record)) }
                    return
                }
                let counts = try outbox.counts()
                print(TaskTable.render(records, nowMillis: nowMillis()), terminator: "")
                let oldest = counts.oldestPendingMillis.map { " (oldest created \(WallClock.rfc3339(millis: $0)))" } ?? ""
                print("\(records.count) shown; outbox: \(counts.pending) pending\(oldest), \(counts.done ?? 0) done, \(counts.dead) dead")
            }

            static func jsonLine(_ record: TaskRecord) throws -> String {
                var object: [String: Any] = [
                    "id": record.id, "order_id": record.orderID, "kind": record.kind, "state": record.state.rawValue,
                    "attempts": record.attempts, "created_at": WallClock.rfc3339(millis: record.createdAtMillis),
                    "available_at": WallClock.rfc3339(millis: record.availableAtMillis),
                ]
                if let owner = record.leaseOwner { object["lease_owner"] = owner }
                if let until = record.leaseUntilMillis { object["lease_until"] = WallClock.rfc3339(millis: until) }
                if let finished = record.finishedAtMillis { object["finished_at"] = WallClock.rfc3339(millis: finished) }
                if let error = record.lastError { object["last_error"] = error }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                return String(decoding: data, as: UTF8.self)
            }
        }

        struct Retry: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make dead tasks pending again (attempts and max_age start over); a running orderd picks them up within executor.poll_interval.",
                discussion: """
                    Either name tasks by id, or select them with --dead [--kind K] [--since DURATION] [--limit N]: \
                    then 500 per transaction, oldest death first, with a progress line on a terminal. SMS that \
                    task.sms.per_recipient throttled are left dead unless --include-throttled (retrying them \
                    sends them).
                    """
            )

            @OptionGroup var options: ConfigOption
            @Argument(help: "Task ids as `orderd tasks list` shows them: <order id>:<kind>.")
            var ids: [String] = []
            @Flag(name: .long, help: "Retry the dead tasks the options below select, instead of ids.")
            var dead = false
            @Option(name: .long, help: "Only tasks of this kind (with --dead).")
            var kind: TaskKindOption?
            @Option(name: .long, help: "Only tasks that died within this long (with --dead): 30m, 6h, 2d.")
            var since: String?
            @Option(name: .long, help: "At most this many tasks (with --dead; default: all of them).")
            var limit: Int?
            @Flag(name: .customLong("include-throttled"), help: "Also SMS refused by task.sms.per_recipient (with --dead).")
            var includeThrottled = false
            @Flag(name: .customLong("dry-run"), help: "Only count what would be retried (with --dead).")
            var dryRun = false

            /// Each batch one short write transaction: a running daemon's writer waits for one batch at most.
            static let batchSize = 500

            func validate() throws {
                if dead {
                    guard ids.isEmpty else { throw ValidationError("Give task ids or --dead, not both.") }
                    try validateSince(since)
                    if let limit, limit < 1 { throw ValidationError("--limit must be at least 1.") }
                } else {
                    guard !ids.isEmpty else { throw ValidationError("Give task ids, or --dead to select dead tasks.") }
                    guard kind == nil, since == nil, limit == nil, !includeThrottled, !dryRun else {
                        throw ValidationError("--kind, --since, --limit, --include-throttled and --dry-run go with --dead.")
                    }
                }
            }

            func run() throws {
                if dead { try retrySelected() } else { try retryByID() }
            }

            func retryByID() throws {
                let keys = try ids.map { id -> TaskKey in
                    guard let key = TaskKey(id) else {
                        throw ValidationError("'\(id)' is not a task id; expected <order id>:sms, :webhook or :audit.")
                    }
                    return key
                }
                let outbox = try openAdministration(options, writable: true)
                defer { outbox.close() }
                var missing = 0
                for key in keys {
                    if try outbox.retryDead(key, nowMillis: nowMillis()) {
                        print("\(key): pending again")
                    } else {
                        printError("\(key): no dead task with this id")
                        missing += 1
                    }
                }
                if missing > 0 { throw ExitStatus.data }
            }

            func retrySelected() throws {
                let now = nowMillis()
                let diedSince = since.flatMap(DurationText.parse).map { now - DurationText.millis($0) }
                var selection = DeadTaskSelection(
                    kind: kind?.rawValue, diedSinceMillis: diedSince, includeThrottled: includeThrottled,
                    limit: limit ?? Int.max)
                let outbox = try openAdministration(options, writable: !dryRun)
                defer { outbox.close() }
                if dryRun {
                    print("\(try outbox.retryDead(selection, nowMillis: now, dryRun: true)) dead tasks would be made pending again")
                    return
                }
                let progress = ProgressLine()
                var done = 0
                var remaining = limit ?? Int.max
                while remaining > 0 {
                    selection.limit = min(Self.batchSize, remaining)
                    let batch = try outbox.retryDead(selection, nowMillis: now, dryRun: false)
                    done += batch
                    remaining -= batch
                    progress.show("retry: \(done) tasks pending again")
                    if batch < selection.limit { break }
                }
                progress.finish()
                print("\(done) dead tasks pending again; a running orderd takes them up within executor.poll_interval")
            }
        }

        struct Purge: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Delete dead tasks that died longer ago than --older-than, 500 per transaction (done tasks go by outbox.retention)."
            )

            @OptionGroup var options: ConfigOption
            @Flag(name: .long, help: "Delete dead tasks (the only kind this command deletes; say so on purpose).")
            var dead = false
            @Option(name: .customLong("older-than"), help: "Only tasks that died longer ago than this: 30d, 12h, 90m.")
            var olderThan: String

            func validate() throws {
                guard dead else {
                    throw ValidationError("Nothing to purge without --dead: only dead tasks are purged by hand; done tasks are deleted after outbox.retention.")
                }
                guard DurationText.parse(olderThan) != nil else {
                    throw ValidationError("--older-than must be a duration such as 30d, 12h or 90m, not '\(olderThan)'.")
                }
            }

            func run() throws {
                guard let age = DurationText.parse(olderThan) else { throw ExitStatus.usage }
                let cutoff = nowMillis() - DurationText.millis(age)
                let outbox = try openAdministration(options, writable: true)
                defer { outbox.close() }
                let deleted = try outbox.purgeDead(finishedBeforeMillis: cutoff, batchSize: 500)
                print("\(deleted) dead tasks deleted (died before \(WallClock.rfc3339(millis: cutoff))).")
            }
        }
    }
}
