import CFastCGI

#if canImport(Glibc)
import Glibc
#endif

/// A FastCGI param block as libfcgi leaves it in `FCGX_Request.envp`: C strings `NAME=value`, in the order the
/// web server sent them, ended by a null pointer. Pure lookups over memory the caller owns, so they can be
/// tested on a block built by hand; valid only as long as that memory is.
package struct FastCGIParams {
    let envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?

    package init(envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        self.envp = envp
    }

    /// The value of the first `name=` entry, copied (invalid UTF-8 repaired with U+FFFD); nil when absent.
    /// libfcgi's own `FCGX_GetParam` does the lookup: the name must be followed by `=`, so `HTTP_X` never
    /// answers for `HTTP_X_Y`, and everything after the first `=` is the value.
    package func value(_ name: String) -> String? {
        guard let envp, let value = FCGX_GetParam(name, envp) else { return nil }
        return String(cString: value)
    }

    /// How many entries are `name=…`: nginx passes a repeated request header (`Idempotency-Key` twice) as two
    /// params, and `value(_:)` only ever returns the first.
    package func count(_ name: String) -> Int {
        guard var entry = envp else { return 0 }
        let prefix = (Array(name.utf8) + [UInt8(ascii: "=")]).map { CChar(bitPattern: $0) }
        var count = 0
        while let pointer = entry.pointee {
            if strncmp(pointer, prefix, prefix.count) == 0 { count += 1 }
            entry += 1
        }
        return count
    }
}
