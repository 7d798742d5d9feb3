import CFastCGI
import CSQLite
import OrderdSupport

extension OrderdVersion {
    /// `orderd --version`: orderd's version, the compiler, and the C libraries it runs with (SQLite's from
    /// the library loaded now, libfcgi's from the headers it was built against: it has no version call).
    package static var full: String {
        """
        orderd \(current)
        Swift \(swiftCompiler)
        SQLite \(String(cString: sqlite3_libversion()))
        libfcgi \(String(cString: orderd_fcgi_version()))
        """
    }
}
