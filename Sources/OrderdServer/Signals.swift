import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// Process signals handled synchronously: blocked in every thread and taken with `sigwait` by one thread.
///
/// `block()` must run first thing in `main`, before any thread exists, so every thread inherits the mask;
/// libfcgi's own handlers (SIGTERM just sets a flag) then never see these signals.
package enum Signals {
    package static let handled: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT]

    package static func block() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        // A client that went away must show up as EPIPE on write, never kill the process.
        signal(SIGPIPE, SIG_IGN)
    }

    /// Blocks until one of the handled signals arrives and returns it.
    package static func wait() -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }

    package static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGHUP: return "SIGHUP"
        case SIGQUIT: return "SIGQUIT"
        default: return "signal \(signal)"
        }
    }
}
