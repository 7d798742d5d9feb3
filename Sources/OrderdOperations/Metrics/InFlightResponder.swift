import OrderdFastCGI
import OrderdSupport
import Prometheus

/// Wraps the HTTP edge to count the requests it is answering: from the moment a request thread hands it a
/// request to the moment its answer was written (the follow-up hand-off after `FCGX_Finish_r` not included).
struct InFlightResponder: FastCGIResponder {
    let responder: any FastCGIResponder
    let inFlight: Gauge

    func respond(to exchange: borrowing FastCGIExchange, readDeadline: ContinuousClock.Instant) -> (@Sendable () -> Void)? {
        inFlight.increment()
        let afterFinish = responder.respond(to: exchange, readDeadline: readDeadline)
        // A request handed over is in flight until its answer is written, on another thread.
        if let handle = exchange.handedOver {
            handle.whenFinished { [inFlight] in inFlight.decrement() }
        } else {
            inFlight.decrement()
        }
        return afterFinish
    }
}
