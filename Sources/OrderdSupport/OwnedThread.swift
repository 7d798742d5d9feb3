#if canImport(Glibc)
import Glibc
#endif

/// `pthread_create` refused a thread (the process or the machine is out of threads or memory).
package struct ThreadStartError: Error, CustomStringConvertible {
    package let description: String
}

/// A joinable OS thread we own (not a Swift concurrency task): for the parts that block in C (SQLite, libfcgi,
/// fsync) or wait on a condition, so they never hold a thread of Swift's cooperative pool.
package final class OwnedThread: Sendable {
    private final class Start {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    private let id: pthread_t

    /// The longest name Linux keeps for a thread (16 bytes with the terminating NUL).
    package static let maxNameBytes = 15

    /// Starts `body` on a new thread named `name` (as `top -H`, `ps -L`, perf and /proc show it).
    ///
    /// `name` must fit the kernel's 15 bytes (`maxNameBytes`; a precondition): a longer one would be cut, and
    /// two threads could then show the same name, or a name that tools grouping threads by name
    /// (bench/run.sh's profile) never match. `orderd-req-N` fits up to N = 9999.
    ///
    /// `body` is sent, not shared: what it captures may be non-`Sendable` state that the new thread alone owns
    /// from then on (the SQLite writer), as long as the caller keeps no other reference to it.
    /// - Parameter stackSize: bytes of stack; nil: the system's default (8 MiB on Debian).
    package init(name: String, stackSize: Int? = nil, body: sending @escaping () -> Void) throws(ThreadStartError) {
        precondition(
            name.utf8.count <= Self.maxNameBytes, "thread name '\(name)' is longer than \(Self.maxNameBytes) bytes")
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        if let stackSize { pthread_attr_setstacksize(&attributes, stackSize) }
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            OwnedThread.nameCurrentThread(start.name)
            start.body()
            return nil
        }, start)
        guard status == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw ThreadStartError(description: "cannot start the \(name) thread: pthread_create returned \(status)")
        }
        id = thread
    }

    /// Names the calling thread through /proc: Glibc's `pthread_setname_np` is not visible to Swift without
    /// `_GNU_SOURCE`, and this is the file it writes. A name that cannot be set is left alone (a cosmetic loss).
    private static func nameCurrentThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8)
        _ = bytes.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count) }
    }

    /// Waits for the thread to end. Call exactly once.
    package func join() {
        pthread_join(id, nil)
    }
}
