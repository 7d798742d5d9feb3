#if canImport(Glibc)
import Glibc
#endif

extension sockaddr_un {
    /// The address of the unix socket at `path` (raw bytes: a leading NUL names an abstract socket), or nil
    /// when the path does not fit `sun_path` with its terminating NUL.
    package init?(pathBytes: [UInt8]) {
        self.init()
        sun_family = sa_family_t(AF_UNIX)
        guard pathBytes.count < MemoryLayout.size(ofValue: sun_path) else { return nil }
        withUnsafeMutableBytes(of: &sun_path) { raw in
            for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
        }
    }

    package init?(path: String) { self.init(pathBytes: Array(path.utf8)) }

    /// Most bytes a path may have.
    package static var maxPathLength: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1 }
}
