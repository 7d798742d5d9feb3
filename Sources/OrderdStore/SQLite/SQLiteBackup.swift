import CSQLite
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// `orderd backup --to FILE`: a consistent copy of the live SQLite database while orderd serves.
///
/// SQLite's online backup API, stepped a few thousand pages at a time for a progress line, inside one read
/// transaction on the source: in WAL mode that pins one snapshot (the copy holds exactly the orders committed
/// before the backup began, and none half-written) without blocking orderd's writer, which goes on appending to
/// the WAL. Copying the database file with `cp` is not a backup: it misses what is still in the WAL and may
/// catch a checkpoint half done.
///
/// The copy is written to `FILE.partial`, checked (`PRAGMA quick_check`), fsynced and renamed to `FILE`, so
/// `FILE` is either a whole, checked database or absent.
package enum SQLiteBackup {
    package struct Report: Sendable {
        package var pages: Int
        package var bytes: Int
        package var orders: Int
    }

    package static func run(
        from source: String, to destination: String, pagesPerStep: Int32 = 4096,
        progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }
    ) throws(StoreError) -> Report {
        let partial = destination + ".partial"
        guard access(destination, F_OK) != 0 else {
            throw StoreError.unavailable("\(destination) exists; choose a new file (a backup never overwrites one)")
        }
        unlink(partial)
        let from = try SQLiteConnection(path: source, readOnly: true)
        defer { from.close() }
        try from.execute("PRAGMA busy_timeout = 5000")
        // The snapshot: a read transaction held until the copy is done.
        try from.execute("BEGIN")
        defer { try? from.execute("COMMIT") }
        _ = try from.scalarInt("SELECT count(*) FROM sqlite_schema")
        let to = try SQLiteConnection(path: partial, readOnly: false)
        var closed = false
        defer {
            if !closed { to.close() }
        }
        guard let backup = sqlite3_backup_init(to.rawHandle, "main", from.rawHandle, "main") else {
            let message = String(cString: sqlite3_errmsg(to.rawHandle))
            unlink(partial)
            throw StoreError.unavailable("cannot start the backup into \(partial): \(message)")
        }
        var status: Int32 = SQLITE_OK
        while true {
            status = sqlite3_backup_step(backup, pagesPerStep)
            let total = Int(sqlite3_backup_pagecount(backup))
            progress(total - Int(sqlite3_backup_remaining(backup)), total)
            if status == SQLITE_OK { continue }
            if status == SQLITE_BUSY || status == SQLITE_LOCKED {
                usleep(10_000)
                continue
            }
            break
        }
        let pages = Int(sqlite3_backup_pagecount(backup))
        sqlite3_backup_finish(backup)
        guard status == SQLITE_DONE else {
            unlink(partial)
            throw to.error(status, "backup into \(partial)")
        }
        let check = try to.scalarText("PRAGMA quick_check") ?? ""
        guard check == "ok" else {
            unlink(partial)
            throw StoreError.unavailable("the copy failed its check (\(check.prefix(200))); \(partial) removed")
        }
        let orders = Int(try to.scalarInt("SELECT count(*) FROM orders") ?? 0)
        let pageSize = Int(try to.scalarInt("PRAGMA page_size") ?? 4096)
        // One file, not a WAL beside it: the copy must stand alone.
        try to.execute("PRAGMA journal_mode = DELETE")
        to.close()
        closed = true
        try syncAndRename(partial, to: destination)
        return Report(pages: pages, bytes: pages * pageSize, orders: orders)
    }

    private static func syncAndRename(_ partial: String, to destination: String) throws(StoreError) {
        let fd = open(partial, O_RDONLY | O_CLOEXEC)
        guard fd >= 0, fsync(fd) == 0 else {
            if fd >= 0 { close(fd) }
            throw StoreError.unavailable("cannot fsync \(partial): \(String(cString: strerror(errno)))")
        }
        close(fd)
        guard rename(partial, destination) == 0 else {
            throw StoreError.unavailable("cannot rename \(partial) to \(destination): \(String(cString: strerror(errno)))")
        }
        let directory = destination.contains("/") ? String(destination[..<destination.lastIndex(of: "/")!]) : "."
        let dirFD = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }
}
