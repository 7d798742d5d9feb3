import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import OrderdExecutor
import OrderdSupport

/// POSTs JSON to one URL with AsyncHTTPClient: the deadline bounds the whole call (connect included), the
/// task's cancellation cancels the request, and every call carries `Idempotency-Key` (and whatever credentials the
/// caller adds: the SMS gateway's header, a webhook's signature).
///
/// A 2xx answer is success. 408, 425, 429 and 5xx, timeouts and connection failures are transient (retried);
/// any other answer, redirects included, is permanent: the receiver rejected the request itself.
package final class HTTPPoster: Sendable {
    package let url: String
    package let connectTimeout: Duration
    package let connections: Int
    private let client: HTTPClient

    /// - Parameters:
    ///   - connectTimeout: the longest a connection attempt may take (the attempt's deadline also bounds it).
    ///   - connections: most connections kept to the host, at least the executor's workers.
    package init(url: String, connectTimeout: Duration, connections: Int) {
        self.url = url
        self.connectTimeout = connectTimeout
        self.connections = connections
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(connectTimeout.millis), read: nil))
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, connections)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// - Parameter headers: added as they are; their values are never logged (errors name the host only).
    func post(
        json: [UInt8], idempotencyKey: String, headers: [(name: String, value: String)] = [],
        deadline: ContinuousClock.Instant
    ) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: idempotencyKey)
        request.headers.add(name: "User-Agent", value: "orderd/\(OrderdVersion.current)")
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        request.body = .bytes(ByteBuffer(bytes: json))
        let remaining = ContinuousClock.now.duration(to: deadline)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: .now() + .nanoseconds(remaining.nanos))
            // Read the answer to the end so the connection can be reused; its content does not matter.
            for try await _ in response.body {}
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw FollowUpError.transient(Self.describe(error))
        }
        if let failure = Self.failure(status: Int(response.status.code), url: url) { throw failure }
    }

    /// What an answer's status means: nil for 2xx (done); 408, 425, 429 and 5xx are transient; any other status
    /// (redirects included) is permanent.
    static func failure(status: Int, url: String) -> FollowUpError? {
        switch status {
        case 200..<300: return nil
        case 408, 425, 429, 500..<600: return .transient("HTTP \(status) from \(hostPart(url))")
        default: return .permanent("HTTP \(status) from \(hostPart(url))")
        }
    }

    /// Closes the connections. Call once, after the last `post`.
    package func shutdown() {
        try? client.syncShutdown()
    }

    /// What went wrong, for the task's error (logged and kept in the outbox): URLs an error may quote are masked
    /// (`SecretMask`), since a gateway URL may carry a token.
    static func describe(_ error: any Error) -> String {
        SecretMask.urls(in: plainDescription(error))
    }

    private static func plainDescription(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded: return "deadline exceeded"
            case .connectTimeout: return "connect timed out"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: return "HTTP client error: \(error)"
            }
        }
        return "\(error)"
    }

    /// `scheme://host:port` of a URL: enough to say who answered, without a path that might carry a token (and
    /// userinfo masked, should a URL ever carry one).
    static func hostPart(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return SecretMask.url(url) }
        let rest = url[schemeEnd.upperBound...]
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return SecretMask.url(String(url[..<schemeEnd.upperBound]) + host)
    }
}
