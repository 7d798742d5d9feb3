import ArgumentParser
import Foundation
import Logging
import OrderdConfig
import OrderdStore
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

@main
struct Orderd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orderd",
        abstract: "Order backend: a FastCGI responder behind nginx.",
        discussion: """
            Exit codes (sysexits.h): 0 done; 1 a serve that stopped uncleanly or a command that found nothing to \
            do where it had to; 64 usage; 65 data (a task or order id that names nothing, a database of another \
            schema version); 69 unavailable (the store cannot be opened or answer); 73 cannot create a file; \
            74 I/O error; 78 configuration (the INI or the keys file).
            """,
        version: OrderdVersion.full,
        subcommands: [Serve.self, CheckConfig.self, Tasks.self, Orders.self, Keys.self, Backup.self],
        defaultSubcommand: Serve.self
    )
}

/// sysexits.h, the codes the commands exit with (listed in `orderd --help`).
enum ExitStatus {
    static let usage = ExitCode(64)
    static let data = ExitCode(65)
    static let unavailable = ExitCode(69)
    static let cannotCreate = ExitCode(73)
    static let ioError = ExitCode(74)
    static let config = ExitCode(78)
}

/// Opens the configured store for an administration command (never migrated; read-only unless `writable`).
func openAdministration(_ options: ConfigOption, writable: Bool) throws -> any OutboxAdministration {
    let configuration = try options.load()
    do {
        return try OrderStores.openForAdministration(StoreSettings(configuration), writable: writable)
    } catch let error as SchemaMismatch {
        printError("orderd: \(error)")
        throw ExitStatus.data
    } catch {
        printError("orderd: cannot open the store: \(String(reflecting: error))")
        throw ExitStatus.unavailable
    }
}

/// The terminal's progress line on stderr: rewritten in place, only on a terminal.
struct ProgressLine {
    let enabled = isatty(2) == 1

    func show(_ text: String) {
        if enabled { printError("\r\u{1B}[K" + text, newline: false) }
    }

    func finish() {
        if enabled { printError("") }
    }
}

/// Milliseconds since the Unix epoch, now.
func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The INI configuration file.")
    var config: String = "/etc/orderd/orderd.ini"

    /// The configuration, or exit 78 with the loader's message (file, line, key, value and what was expected).
    func load(starting: Bool = false) throws -> OrderdConfiguration {
        do {
            return try ConfigLoader.load(path: config)
        } catch {
            printError("orderd: configuration \(config) is not valid\(starting ? "; not starting" : "").\n\(error)")
            throw ExitStatus.config
        }
    }
}

/// `--since 30m`: a duration in the INI file's syntax, checked in `validate()` so the message can say what is
/// expected.
func validateSince(_ since: String?) throws {
    if let since, DurationText.parse(since) == nil {
        throw ValidationError("--since must be a duration such as 30m, 6h or 2d, not '\(since)'.")
    }
}

/// Prints to stderr in one write (stderr is not safe to use through `fputs` under Swift 6 strict concurrency).
func printError(_ text: String, newline: Bool = true) {
    let line = !newline || text.hasSuffix("\n") ? text : text + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}
