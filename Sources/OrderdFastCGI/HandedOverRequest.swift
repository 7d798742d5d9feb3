import CFastCGI

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
        server.finishHandedOver(request, then: afterFinish)
    }
}
