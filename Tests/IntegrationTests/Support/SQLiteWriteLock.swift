import Foundation
import Testing

/// SQLite's write lock on a database, held by a `sqlite3` process (another process, as a second orderd or an
/// operator's shell would be) until `release()`: orderd's writer then waits in `BEGIN IMMEDIATE` up to its
/// `store.busy_timeout`.
final class SQLiteWriteLock {
    private let process = Process()
    private let input = Pipe()
    private var held = true

    init(databasePath: String) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [databasePath]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // `.timeout`: orderd's writer may be committing task outcomes at this moment; without it sqlite3 fails
        // at once, prints "Runtime error … database is locked" (batch mode: not "Error:") and goes on unlocked.
        try input.fileHandleForWriting.write(contentsOf: Array(".timeout 10000\nBEGIN IMMEDIATE;\nSELECT 'locked';\n".utf8))
        var answer = ""
        while !answer.contains("locked") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            answer += String(decoding: chunk, as: UTF8.self)
        }
        try #require(answer.contains("locked") && !answer.lowercased().contains("error"), "sqlite3 could not take the write lock: \(answer)")
    }

    /// Rolls the transaction back: the lock is free, the process stays until `deinit`.
    func release() throws {
        guard held else { return }
        held = false
        try input.fileHandleForWriting.write(contentsOf: Array("ROLLBACK;\n".utf8))
    }

    deinit {
        try? release()
        try? input.fileHandleForWriting.write(contentsOf: Array(".quit\n".utf8))
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
