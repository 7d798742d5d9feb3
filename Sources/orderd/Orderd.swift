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
        version: OrderdVersion.current,
        subcommands: [Serve.self, CheckConfig.self],
        defaultSubcommand: Serve.self
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The INI configuration file.")
    var config: String = "/etc/orderd/orderd.ini"
}

/// Prints to stderr in one write (stderr is not safe to use through `fputs` under Swift 6 strict concurrency).
func printError(_ text: String) {
    let line = text.hasSuffix("\n") ? text : text + "\n"
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
            LoggingSystem.bootstrap { label in
                OrderdLogHandler(label: label, level: Logger.Level(configuration.log.level), format: configuration.log.format)
            }
            let logger = Logger(label: "orderd")
            let service = OrderdService(
                configuration: configuration,
                configPath: options.config,
                logger: logger,
                environment: ProcessInfo.processInfo.environment
            )
            do {
                let code = try service.run()
                if code != 0 { throw ExitCode(code) }
            } catch let error as ExitCode {
                throw error
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
                print("; effective configuration of \(options.config) (defaults filled in, secrets masked)")
                print(configuration.renderINI(), terminator: "")
                printError("orderd: configuration file \(options.config) test is successful")
            } catch {
                printError("\(error)")
                printError("orderd: configuration file \(options.config) test failed")
                throw ExitCode(1)
            }
        }
    }
}
