import Foundation

/// Polls `condition` every 50 ms until it holds or `timeout` passes; true when it held. Tests wait for outcomes
/// this way with a generous bound, and never assert how soon they came.
public func pollUntil(_ timeout: Duration, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}
