import CFastCGI
import Synchronization

/// A request whose answer is written later, by another thread: the request thread that read it handed it over
/// (`FastCGIExchange.handOver()`) and went back to serving connections instead of waiting for the answer.
///
/// For answers that wait on something slow and shared (the commit of an order): the request thread would sleep
/// until then, and be woken for it, once per request. The thread that finishes the handle owns the request from the
/// hand-over on: it writes the answer and calls `finish` exactly once; the stop of the server waits for that.
package final class HandedOverRequest: @unchecked Sendable {
    // Owned by whoever holds this handle until `finish`; the server's again after it.
    private let request: UnsafeMutablePointer<FCGX_Request>
    private let server: FastCGIServer
    private let ending = Mutex<(finished: Bool, hook: (@Sendable () -> Void)?)>((false, nil))

    init(request: UnsafeMutablePointer<FCGX_Request>, server: FastCGIServer) {
        self.request = request
        self.server = server
    }

    /// Writes bytes to the response stream; false when the peer is gone. Before `finish` only.
    @discardableResult
    package func write(_ bytes: [UInt8]) -> Bool {
        FastCGIExchange.put(bytes, to: request)
    }

    /// Ends the request (`FCGX_Finish_r`: the answer goes out), runs `afterFinish`, then gives the connection
    /// back to the server (kept for its next request, or closed). Call it exactly once.
    package func finish(then afterFinish: (@Sendable () -> Void)?) {
        server.finishHandedOver(request) { [self] in
            // Right after FCGX_Finish_r, as a request thread's own answer ends there.
            let hook = ending.withLock { state in
                state.finished = true
                defer { state.hook = nil }
                return state.hook
            }
            hook?()
            afterFinish?()
        }
    }

    /// Runs `body` once the request is finished: at once if it is already. One caller (the in-flight count).
    package func whenFinished(_ body: @escaping @Sendable () -> Void) {
        let now = ending.withLock { state -> Bool in
            if state.finished { return true }
            precondition(state.hook == nil, "one whenFinished per handed-over request")
            state.hook = body
            return false
        }
        if now { body() }
    }
}
