#if canImport(Glibc)
import Glibc
#endif

/// A joinable OS thread we own (not a Swift concurrency task), used for the store's writer.
final class StoreThread: Sendable {
    private final class Start {
        let body: @Sendable () -> Void
        init(body: @escaping @Sendable () -> Void) {
            self.body = body
        }
    }

    private let id: pthread_t

    /// Starts `body` on a new thread. `name` only appears in errors: Glibc's `pthread_setname_np` is not
    /// visible to Swift without `_GNU_SOURCE`.
    init(name: String, body: @escaping @Sendable () -> Void) throws(StoreError) {
        let start = Unmanaged.passRetained(Start(body: body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            start.body()
            return nil
        }, start)
        guard status == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw StoreError.unavailable("cannot start the \(name) thread: pthread_create returned \(status)")
        }
        id = thread
    }

    /// Waits for the thread to end. Call exactly once.
    func join() {
        pthread_join(id, nil)
    }
}
