import ArgumentParser
import Foundation
import OrderdConfig
import OrderdStore
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

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
            let configuration = try options.load()
            guard configuration.store.driver == .sqlite else {
                printError("orderd: store.driver is postgres: back it up with pg_dump or point-in-time recovery (docs/operations.md, Operating)")
                throw ExitStatus.usage
            }
            let progress = ProgressLine()
            let start = Date()
            var lastShown = -1
            do {
                let report = try SQLiteBackup.run(from: configuration.store.path, to: to) { done, total in
                    guard progress.enabled, total > 0 else { return }
                    let percent = done * 100 / total
                    if percent != lastShown {
                        lastShown = percent
                        progress.show("backup: \(done)/\(total) pages (\(percent)%)")
                    }
                }
                progress.finish()
                let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
                print("backup: \(to): \(report.orders) orders, \(report.pages) pages (\(report.bytes / 1024) KiB), checked, in \(seconds) s")
            } catch {
                progress.finish()
                printError("orderd: backup failed: \(String(reflecting: error))")
                throw ExitStatus.ioError
            }
        }
    }
}
