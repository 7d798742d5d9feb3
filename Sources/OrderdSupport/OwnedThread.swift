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
        let body: () -> Void
        init(body: @escaping () -> Void) {
            self.body = body
        }
    }

    private let id: pthread_t

    /// Starts `body` on a new thread. `name` only appears in errors: Glibc's `pthread_setname_np` is not
    /// visible to Swift without `_GNU_SOURCE`.
    ///
    /// `body` is sent, not shared: what it captures may be non-`Sendable` state that the new thread alone owns
    /// from then on (the SQLite writer), as long as the caller keeps no other reference to it.
    package init(name: String, body: sending @escaping () -> Void) throws(ThreadStartError) {
        let start = Unmanaged.passRetained(Start(body: body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            start.body()
            return nil
        }, start)
        guard status == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw ThreadStartError(description: "cannot start the \(name) thread: pthread_create returned \(status)")
        }
        id = thread
    }

    /// Waits for the thread to end. Call exactly once.
    package func join() {
        pthread_join(id, nil)
    }
}
