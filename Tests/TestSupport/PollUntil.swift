import Foundation

/// Polls `condition` every 50 ms until it holds or `timeout` passes; true when it held. Tests wait for outcomes
/// this way with a generous bound, and never assert how soon they came.
///
/// This form blocks its thread: for tests that wait on another process (the integration tests). A test whose
/// outcome needs anything of this process that runs Swift Tasks (`FollowUps`, `BoundedExecutor`) uses the
/// `async` form below: Swift Testing runs a synchronous test on a thread of the cooperative pool (two threads
/// on two cores), and two tests blocked there at once leave no thread for those Tasks, theirs or another suite's.
public func pollUntil(_ timeout: Duration, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}

/// Polls `condition` like the blocking form (every `interval`, 50 ms unless told), and sleeps between polls with
/// `Task.sleep`: the cooperative pool's thread is free for other Tasks meanwhile. Cancelling the test's Task
/// ends the wait early (the final poll still decides the answer).
public func pollUntil(
    _ timeout: Duration, every interval: Duration = .milliseconds(50), _ condition: () throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        do { try await Task.sleep(for: interval) } catch { break }
    }
    return try condition()
}
