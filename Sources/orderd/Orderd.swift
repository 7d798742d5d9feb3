import ArgumentParser
import Foundation
import Logging
import OrderdCore

#if canImport(Glibc)
import Glibc
#endif

@main
struct Orderd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orderd",
        abstract: "Order backend: a FastCGI responder behind nginx.",
        version: OrderdVersion.full,
        subcommands: [Serve.self, CheckConfig.self, Tasks.self, Keys.self, Backup.self],
        defaultSubcommand: Serve.self
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The INI configuration file.")
    var config: String = "/etc/orderd/orderd.ini"
}

/// Prints to stderr in one write (stderr is not safe to use through `fputs` under Swift 6 strict concurrency).
func printError(_ text: String, newline: Bool = true) {
    let line = !newline || text.hasSuffix("\n") ? text : text + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

extension Orderd {
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve FastCGI requests (the default).")

        @OptionGroup var options: ConfigOption

        func run() throws {
            // Before any thread exists, so that every thread inherits the mask and sigwait sees the signals.
            Signals.block()
            let configuration: OrderdConfiguration
            do {
                configuration = try ConfigLoader.load(path: options.config)
            } catch {
                printError("orderd: configuration \(options.config) is not valid; not starting.\n\(error)")
                throw ExitCode(78)  // EX_CONFIG
            }
            // Before anything starts, with the same wording as check-config (the key and the file, never the secret).
            do {
                _ = try OutgoingCredentials.load(configuration)
            } catch {
                printError("orderd: configuration \(options.config) is not valid; not starting.\n\(error.description)")
                throw ExitCode(78)
            }
            let logSettings = LogSettings(configuration.log, environment: ProcessInfo.processInfo.environment)
            LoggingSystem.bootstrap { label in OrderdLogHandler(label: label, settings: logSettings) }
            let logger = Logger(label: "orderd")
            let service = OrderdService(
                configuration: configuration,
                configPath: options.config,
                logger: logger,
                logSettings: logSettings,
                environment: ProcessInfo.processInfo.environment
            )
            do {
                let code = try service.run()
                if code != 0 { throw ExitCode(code) }
            } catch let error as ExitCode {
                throw error
            } catch let error as APIKeyFile.Failure {
                logger.critical("cannot start: API keys not usable", metadata: ["problem": "\(error.description)"])
                throw ExitCode(78)
            } catch {
                logger.critical("cannot start", metadata: ["error": "\(String(reflecting: error))"])
                throw ExitCode(1)
            }
        }
    }

    struct CheckConfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config",
            abstract: "Validate the configuration and print the effective values (like nginx -t / php-fpm -tt)."
        )

        @OptionGroup var options: ConfigOption

        func run() throws {
            do {
                let configuration = try ConfigLoader.load(path: options.config)
                _ = try OutgoingCredentials.load(configuration)
                let keys = try APIKeyFile.load(configuration.auth.keysFile)
                print("; effective configuration of \(options.config) (defaults filled in, secrets masked)")
                print("; \(keys.count) API key\(keys.count == 1 ? "" : "s") in \(configuration.auth.keysFile)")
                print(configuration.renderINI(), terminator: "")
                for warning in configuration.warnings { printError("orderd: warning: \(warning)") }
                printError("orderd: configuration file \(options.config) test is successful")
            } catch {
                printError("\(error)")
                printError("orderd: configuration file \(options.config) test failed")
                throw ExitCode(1)
            }
        }
    }
}

extension Orderd {
    struct Tasks: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show, retry and purge follow-up tasks in the outbox (works while orderd runs).",
            subcommands: [List.self, Retry.self, Purge.self]
        )

        /// The outbox as `orderd tasks` uses it beside a running daemon: never migrated, never checkpointed;
        /// read-only unless `writable`. A database of another schema version is refused (exit 1).
        static func openOutbox(_ options: ConfigOption, writable: Bool) throws -> any OutboxAdministration {
            let configuration: OrderdConfiguration
            do {
                configuration = try ConfigLoader.load(path: options.config)
            } catch {
                printError("orderd: configuration \(options.config) is not valid.\n\(error)")
                throw ExitCode(78)
            }
            do {
                return try OrderStores.openForAdministration(configuration, writable: writable)
            } catch let error as SchemaMismatch {
                printError("orderd: \(error)")
                throw ExitCode(1)
            } catch {
                printError("orderd: cannot open the store: \(String(reflecting: error))")
                throw ExitCode(1)
            }
        }

        static func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List tasks, oldest first (opens the database read-only).")

            @OptionGroup var options: ConfigOption
            @Flag(name: .long, help: "Only dead tasks (failed for good; retry them with `orderd tasks retry`).")
            var dead = false
            @Option(name: .long, help: "Only tasks in this state: pending, done or dead.")
            var state: String?
            @Option(name: .long, help: "Show at most this many tasks.")
            var limit: Int = 100

            func run() throws {
                var wanted: TaskRecord.State? = dead ? .dead : nil
                if let state {
                    guard let parsed = TaskRecord.State(rawValue: state) else {
                        throw ValidationError("--state must be pending, done or dead, not '\(state)'.")
                    }
                    wanted = parsed
                }
                let outbox = try Tasks.openOutbox(options, writable: false)
                defer { outbox.close() }
                let records = try outbox.tasks(in: wanted, limit: max(1, limit))
                let counts = try outbox.counts()
                print(TaskTable.render(records, nowMillis: Tasks.nowMillis()), terminator: "")
                let oldest = counts.oldestPendingMillis.map { " (oldest created \(OrderJSON.rfc3339(millis: $0)))" } ?? ""
                print("\(records.count) shown; outbox: \(counts.pending) pending\(oldest), \(counts.done ?? 0) done, \(counts.dead) dead")
            }
        }

        struct Retry: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make dead tasks pending again (attempts and max_age start over); a running orderd picks them up within executor.poll_interval."
            )

            @OptionGroup var options: ConfigOption
            @Argument(help: "Task ids as `orderd tasks list` shows them: <order id>:<kind>.")
            var ids: [String]

            func run() throws {
                let keys = try ids.map { id -> TaskKey in
                    guard let key = TaskKey(id) else {
                        throw ValidationError("'\(id)' is not a task id; expected <order id>:sms, :webhook or :audit.")
                    }
                    return key
                }
                let outbox = try Tasks.openOutbox(options, writable: true)
                defer { outbox.close() }
                var missing = 0
                for key in keys {
                    if try outbox.retryDead(key, nowMillis: Tasks.nowMillis()) {
                        print("\(key): pending again")
                    } else {
                        printError("\(key): no dead task with this id")
                        missing += 1
                    }
                }
                if missing > 0 { throw ExitCode(1) }
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
                guard let age = DurationText.parse(olderThan) else { throw ExitCode(64) }
                let cutoff = Tasks.nowMillis() - DurationText.millis(age)
                let outbox = try Tasks.openOutbox(options, writable: true)
                defer { outbox.close() }
                let deleted = try outbox.purgeDead(finishedBeforeMillis: cutoff, batchSize: 500)
                print("\(deleted) dead tasks deleted (died before \(OrderJSON.rfc3339(millis: cutoff))).")
            }
        }
    }
}

extension Orderd {
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make API keys (the secret is printed once; the keys file holds only its SHA-256).",
            subcommands: [New.self]
        )

        struct New: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Generate a key: prints the secret once and the line for auth.keys_file.",
                discussion: """
                    Give the secret to the client (it sends `Authorization: Bearer <secret>`); it is not stored \
                    anywhere. Add the line to the keys file (or use --append-to), then `systemctl reload orderd`. \
                    To revoke a key, delete its line and reload.
                    """
            )

            @Option(name: .long, help: "Comma-separated scopes: orders:write, orders:read (PII included), admin.")
            var scopes: String
            @Option(name: .long, help: "The key's id in logs and orders (default: key_ and 8 random hex digits).")
            var id: String?
            @Option(name: .long, help: "A note kept in the keys file (who holds the key, what for).")
            var note: String = ""
            @Option(name: .customLong("append-to"), help: "Append the line to this keys file (created with mode 0600).")
            var appendTo: String?
            @Option(name: .customLong("secret-to"), help: "Write the secret to this file (mode 0600) instead of printing it.")
            var secretTo: String?

            func validate() throws {
                _ = try parsedScopes()
                if let id, !APIKey.isValidID(id) { throw ValidationError("--id must be 1 to 64 of A-Z a-z 0-9 _ - .") }
                if note.contains(where: \.isNewline) { throw ValidationError("--note must be one line.") }
            }

            func parsedScopes() throws -> Set<Scope> {
                var scopes: Set<Scope> = []
                for name in self.scopes.split(separator: ",") {
                    guard let scope = Scope(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError("--scopes: unknown scope '\(name)'; expected \(Scope.allCases.map(\.rawValue).joined(separator: ", ")).")
                    }
                    scopes.insert(scope)
                }
                guard !scopes.isEmpty else { throw ValidationError("--scopes needs at least one scope.") }
                return scopes
            }

            func run() throws {
                let (key, secret) = APIKey.generate(id: id, scopes: try parsedScopes(), note: note)
                if let appendTo {
                    if let existing = FileManager.default.contents(atPath: appendTo),
                        let keys = try? APIKeyFile.parse(String(decoding: existing, as: UTF8.self), source: appendTo),
                        keys.contains(where: { $0.id == key.id })
                    {
                        printError("orderd: \(appendTo) already has a key with id '\(key.id)'")
                        throw ExitCode(65)  // EX_DATAERR
                    }
                    try Self.append(key.line + "\n", to: appendTo)
                }
                if let secretTo {
                    try Self.write(secret + "\n", to: secretTo)
                } else {
                    print("secret (shown once; the client sends 'Authorization: Bearer <secret>'):")
                    print("  \(secret)")
                }
                if appendTo == nil {
                    print("line for auth.keys_file (then: systemctl reload orderd):")
                    print("  \(key.line)")
                } else {
                    printError("orderd: key '\(key.id)' added to \(appendTo!); reload orderd to use it")
                }
            }

            /// Opens with O_APPEND and mode 0600 when it creates the file; an existing file keeps its mode.
            static func append(_ text: String, to path: String) throws {
                let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
                guard fd >= 0 else {
                    printError("orderd: cannot open \(path): \(String(cString: strerror(errno)))")
                    throw ExitCode(73)  // EX_CANTCREAT
                }
                defer { close(fd) }
                let written = text.withCString { Glibc.write(fd, $0, strlen($0)) }
                guard written == text.utf8.count, fsync(fd) == 0 else {
                    printError("orderd: cannot write \(path): \(String(cString: strerror(errno)))")
                    throw ExitCode(74)  // EX_IOERR
                }
            }

            static func write(_ text: String, to path: String) throws {
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else {
                    printError("orderd: cannot create \(path) (it must not exist yet): \(String(cString: strerror(errno)))")
                    throw ExitCode(73)
                }
                defer { close(fd) }
                let written = text.withCString { Glibc.write(fd, $0, strlen($0)) }
                guard written == text.utf8.count else {
                    printError("orderd: cannot write \(path): \(String(cString: strerror(errno)))")
                    throw ExitCode(74)
                }
            }
        }
    }
}

extension Orderd {
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the SQLite database while orderd serves: a consistent snapshot, checked, in one file.",
            discussion: """
                Restore: stop orderd, put the file at store.path (remove any -wal and -shm files beside it), \
                start orderd. PostgreSQL (store.driver = postgres): use pg_dump or the server's point-in-time \
                recovery instead.
                """
        )

        @OptionGroup var options: ConfigOption
        @Option(name: .long, help: "The backup file to write (it must not exist).")
        var to: String

        func run() throws {
            let configuration: OrderdConfiguration
            do {
                configuration = try ConfigLoader.load(path: options.config)
            } catch {
                printError("orderd: configuration \(options.config) is not valid.\n\(error)")
                throw ExitCode(78)
            }
            guard configuration.store.driver == .sqlite else {
                printError("orderd: store.driver is postgres: back it up with pg_dump or point-in-time recovery (README, Operating)")
                throw ExitCode(64)
            }
            let onTerminal = isatty(2) == 1
            let start = Date()
            var lastShown = -1
            do {
                let report = try SQLiteBackup.run(from: configuration.store.path, to: to) { done, total in
                    guard onTerminal, total > 0 else { return }
                    let percent = done * 100 / total
                    if percent != lastShown {
                        lastShown = percent
                        printError("\rbackup: \(done)/\(total) pages (\(percent)%)", newline: false)
                    }
                }
                if onTerminal { printError("") }
                let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
                print("backup: \(to): \(report.orders) orders, \(report.pages) pages (\(report.bytes / 1024) KiB), checked, in \(seconds) s")
            } catch {
                if onTerminal { printError("") }
                printError("orderd: backup failed: \(String(reflecting: error))")
                throw ExitCode(74)  // EX_IOERR
            }
        }
    }
}
