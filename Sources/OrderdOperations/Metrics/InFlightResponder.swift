import OrderdFastCGI
import Synchronization

/// Wraps the HTTP edge to count the requests it is answering on a request thread: from the moment the thread hands
/// it a request to the moment its answer was written (the follow-up hand-off after `FCGX_Finish_r` not included).
/// A request handed over to another thread leaves this count when the thread returns and is counted by the server
/// until its answer is written (`FastCGIServer.handedOverRequests`); `OrderdMetrics` adds the two at each scrape.
struct InFlightResponder: FastCGIResponder {
    let responder: any FastCGIResponder
    let answering: InFlightCount

    func respond(to exchange: borrowing FastCGIExchange, readDeadline: ContinuousClock.Instant) -> (@Sendable () -> Void)? {
        answering.count.add(1, ordering: .relaxed)
        defer { answering.count.subtract(1, ordering: .relaxed) }
        return responder.respond(to: exchange, readDeadline: readDeadline)
    }
}

/// Requests being answered on request threads now.
final class InFlightCount: Sendable {
    let count = Atomic<Int>(0)
}
