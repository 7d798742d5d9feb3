import CFastCGI
import CSQLite

/// The version orderd reports (`orderd --version`, logs, `/status`).
public enum OrderdVersion {
    public static let current = "0.2.0"

    /// `orderd --version`: orderd's version, the compiler, and the C libraries it runs with (SQLite's from
    /// the library loaded now, libfcgi's from the headers it was built against: it has no version call).
    public static var full: String {
        """
        orderd \(current)
        Swift \(swiftCompiler)
        SQLite \(String(cString: sqlite3_libversion()))
        libfcgi \(String(cString: orderd_fcgi_version()))
        """
    }

    /// The Swift compiler this binary was built with, as far as `#if compiler` can tell (it has no string).
    public static var swiftCompiler: String {
        #if compiler(>=6.5)
        return "6.5+"
        #elseif compiler(>=6.4)
        return "6.4"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #else
        return "6.1"
        #endif
    }
}
