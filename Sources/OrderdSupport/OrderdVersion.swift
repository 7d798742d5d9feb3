/// The version orderd reports (`orderd --version`, logs, `/status`).
package enum OrderdVersion {
    package static let current = "0.2.0"

    /// The Swift compiler this binary was built with, as far as `#if compiler` can tell (it has no string).
    package static var swiftCompiler: String {
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
