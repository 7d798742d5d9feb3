import CFastCGI
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// One FastCGI request on a request thread: its params, its body stream and its response stream.
///
/// Valid only until the request is finished (`FCGX_Finish_r` frees params and streams): copy what outlives it.
package struct FastCGIExchange: ~Copyable {
    let request: UnsafeMutablePointer<FCGX_Request>
    /// The server and the request thread's slot in it: the read deadline, the hand-over.
    let server: FastCGIServer
    let slot: Int

    /// The value of a FastCGI param (`REQUEST_METHOD`, `HTTP_IDEMPOTENCY_KEY`, …), copied.
    package func param(_ name: String) -> String? {
        FastCGIParams(envp: request.pointee.envp).value(name)
    }

    /// How many times the param appears: nginx passes a repeated request header (`Idempotency-Key` twice) as
    /// two params, and `FCGX_GetParam` only ever returns the first.
    package func paramCount(_ name: String) -> Int {
        FastCGIParams(envp: request.pointee.envp).count(name)
    }

    /// Reads up to `maximum` bytes of the request body; fewer means the body ended (or failed: see `bodyError`).
    package func readBody(maximum: Int) -> [UInt8] {
        guard maximum > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: maximum)
        var filled = 0
        buffer.withUnsafeMutableBufferPointer { raw in
            let base = UnsafeMutableRawPointer(raw.baseAddress!).assumingMemoryBound(to: CChar.self)
            while filled < maximum {
                let count = FCGX_GetStr(base + filled, Int32(min(maximum - filled, 1 << 20)), request.pointee.in)
                if count <= 0 { break }
                filled += Int(count)
            }
        }
        buffer.removeSubrange(filled...)
        return buffer
    }

    /// Reads and discards the rest of the body; false when more than `limit` bytes remained or reading failed.
    package func skipBody(limit: Int) -> Bool {
        var skipped = 0
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { scratch in
            while true {
                let count = FCGX_GetStr(scratch.baseAddress!, 4096, request.pointee.in)
                if count <= 0 { return FCGX_GetError(request.pointee.in) == 0 }
                skipped += Int(count)
                if skipped > limit { return false }
            }
        }
    }

    /// Whether the web server asked to keep the connection open after this request.
    package var keepsConnection: Bool { request.pointee.keepConnection != 0 }

    /// Why the body stopped early: `nil` when it simply ended.
    package var bodyError: BodyReadFailure? {
        if server.readDeadlinePassed(slot: slot) { return .timedOut }
        let code = FCGX_GetError(request.pointee.in)
        return code == 0 ? nil : .failed(code)
    }

    /// Writes bytes to the response stream; false when the peer is gone.
    @discardableResult
    package func write(_ bytes: [UInt8]) -> Bool {
        Self.put(bytes, to: request)
    }

    static func put(_ bytes: [UInt8], to request: UnsafeMutablePointer<FCGX_Request>) -> Bool {
        bytes.withUnsafeBufferPointer { raw in
            guard let base = raw.baseAddress else { return true }
            return base.withMemoryRebound(to: CChar.self, capacity: raw.count) {
                FCGX_PutStr($0, Int32(raw.count), request.pointee.out) == Int32(raw.count)
            }
        }
    }

    /// Hands the request over to be answered later by another thread (see `HandedOverRequest`); the request
    /// thread goes back to serving connections once its responder returns. After this, nothing may use the
    /// exchange: the request is the handle's. The body must have been read to its end: the read deadline ends
    /// here.
    package func handOver() -> HandedOverRequest? {
        server.handOver(slot: slot, request: request)
    }

    /// Closes the connection after this request instead of keeping it for the next one
    /// (the body was not read to its end, or the read side was cut).
    package func closeConnectionAfterResponse() {
        request.pointee.keepConnection = 0
    }
}

package enum BodyReadFailure: Equatable, Sendable {
    case timedOut
    case failed(Int32)
}
