import ArgumentParser
import Foundation
import Logging
import OrderdConfig
import OrderdFollowUps
import OrderdHTTP
import OrderdOperations
import OrderdServer
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

extension Orderd {
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve FastCGI requests (the default).")

        @OptionGroup var options: ConfigOption

        func run() throws {
            // Before any thread exists, so that every thread inherits the mask and sigwait sees the signals.
            Signals.block()
            let configuration = try options.load(starting: true)
            // Before anything starts, with the same wording as check-config (the key and the file, never the secret).
            do {
                _ = try OutgoingCredentials.load(configuration)
            } catch {
                printError("orderd: configuration \(options.config) is not valid; not starting.\n\(error.description)")
                throw ExitStatus.config
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
                throw ExitStatus.config
            } catch {
                logger.critical("cannot start", metadata: ["error": "\(String(reflecting: error))"])
                throw ExitCode(1)
            }
        }
    }
}
