import ArgumentParser
import Foundation
import OrderdConfig
import OrderdFollowUps
import OrderdHTTP
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

extension Orderd {
    struct CheckConfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config",
            abstract: "Validate the configuration and print the effective values (like nginx -t / php-fpm -tt)."
        )

        @OptionGroup var options: ConfigOption
        @Flag(name: .long, help: "Print the configuration reference (docs/configuration.md) made from the schema, and exit.")
        var reference = false

        func run() throws {
            if reference {
                print(ConfigReference.markdown(), terminator: "")
                return
            }
            do {
                let configuration = try ConfigLoader.load(path: options.config)
                _ = try OutgoingCredentials.load(configuration)
                let keys = try APIKeyFile.load(configuration.auth.keysFile)
                print("; effective configuration of \(options.config) (defaults filled in, secrets masked)")
                print("; \(keys.count) API key\(keys.count == 1 ? "" : "s") in \(configuration.auth.keysFile)")
                if configuration.server.requestWorkers == nil {
                    print("; server.request_workers = auto: \(configuration.requestThreads()) request threads here"
                        + " (\(configuration.store.driver.rawValue), \(AvailableCPUs.count) CPUs)")
                }
                print(configuration.renderINI(), terminator: "")
                for warning in configuration.warnings { printError("orderd: warning: \(warning)") }
                printError("orderd: configuration file \(options.config) test is successful")
            } catch {
                printError("\(error)")
                printError("orderd: configuration file \(options.config) test failed")
                throw ExitStatus.config
            }
        }
    }
}
