import Testing
import TestSupport
import OrderdExecutor
import OrderdStore
// @testable: these tests read internals: OrderdFollowUps (failure).
@testable import OrderdFollowUps

/// `RetryPolicy.decide` on its table: every outcome class × first or last attempt × within or past `max_age`.
@Suite struct RetryPolicyTests {
    /// How an attempt ended, as the handlers report it.
    enum OutcomeClass: String, CaseIterable, Sendable {
        case ok2xx, clientError4xx, redirect3xx, requestTimeout408, tooEarly425, tooMany429, serverError5xx
        case timeout, connectionRefused, stuck

        var outcome: ExecutorOutcome {
            func http(_ status: Int) -> ExecutorOutcome {
                guard let failure = HTTPPoster.failure(status: status, url: "http://gateway.test/sms") else {
                    return .completed(duration: .milliseconds(5))
                }
                return .failed(failure, duration: .milliseconds(5))
            }
            switch self {
            case .ok2xx: return http(202)
            case .clientError4xx: return http(422)
            case .redirect3xx: return http(302)
            case .requestTimeout408: return http(408)
            case .tooEarly425: return http(425)
            case .tooMany429: return http(429)
            case .serverError5xx: return http(503)
            case .timeout: return .timedOut(duration: .seconds(10))
            case .connectionRefused: return .failed(FollowUpError.transient("connection refused"), duration: .milliseconds(1))
            case .stuck: return .stuck(duration: .seconds(15))
            }
        }

        /// Done, rejected at once, or worth another attempt.
        var expected: Expected {
            switch self {
            case .ok2xx: return .done
            case .clientError4xx, .redirect3xx: return .rejected
            default: return .transient
            }
        }
    }

    enum Expected { case done, rejected, transient }

    enum Attempt: CaseIterable, Sendable { case first, last }
    enum Age: CaseIterable, Sendable { case within, past }

    static let policy = TaskPolicy(timeout: .seconds(10), maxAttempts: 5, maxAge: .seconds(3600))
    static let now: Int64 = 1_800_000_000_000
    static let backoff = Duration.seconds(30)

    static var cases: [(OutcomeClass, Attempt, Age)] {
        OutcomeClass.allCases.flatMap { outcome in Attempt.allCases.flatMap { attempt in Age.allCases.map { (outcome, attempt, $0) } } }
    }

    @Test(arguments: cases)
    func decides(_ outcome: OutcomeClass, _ attempt: Attempt, _ age: Age) {
        let number = attempt == .first ? 1 : Self.policy.maxAttempts
        // Past: the next attempt (now + backoff) would start after max_age; within: well before.
        let ageFrom = age == .past ? Self.now - Self.policy.maxAge.millis + Self.backoff.millis / 2 : Self.now - 1_000
        let decision = RetryPolicy.decide(
            outcome.outcome, attempt: number, policy: Self.policy, ageFromMillis: ageFrom, nowMillis: Self.now,
            backoff: Self.backoff)
        switch (outcome.expected, attempt, age) {
        case (.done, _, _):
            #expect(decision == .done)
        case (.rejected, _, _):
            guard case .dead(.rejected, let message) = decision else { Issue.record("\(decision)"); return }
            #expect(message.hasPrefix("rejected: HTTP "))
        case (.transient, .last, _):
            guard case .dead(.attempts, let message) = decision else { Issue.record("\(decision)"); return }
            #expect(message.hasPrefix("gave up after 5 attempts: "))
        case (.transient, .first, .past):
            guard case .dead(.expired, let message) = decision else { Issue.record("\(decision)"); return }
            #expect(message.contains("past max_age 1h"))
        case (.transient, .first, .within):
            guard case .retry(let at, let error) = decision else { Issue.record("\(decision)"); return }
            #expect(at == Self.now + Self.backoff.millis)
            #expect(!error.isEmpty)
        }
    }

    @Test(arguments: [ExecutorOutcome.notStarted, .cancelledAtStop(duration: .seconds(1))])
    func notTheTasksFaultReleasesWithoutCountingAnAttempt(_ outcome: ExecutorOutcome) {
        let decision = RetryPolicy.decide(
            outcome, attempt: Self.policy.maxAttempts, policy: Self.policy, ageFromMillis: 0, nowMillis: Self.now,
            backoff: Self.backoff)
        #expect(decision == .release)
    }

    @Test func aTaskPastMaxAgeIsDeadBeforeItsAttempt() {
        let old = Self.now - Self.policy.maxAge.millis - 1
        guard case .dead(.expired, let message)? = RetryPolicy.beforeAttempt(policy: Self.policy, ageFromMillis: old, nowMillis: Self.now)
        else {
            Issue.record("a task past max_age was let through")
            return
        }
        #expect(message.hasPrefix("expired: "))
        #expect(RetryPolicy.beforeAttempt(policy: Self.policy, ageFromMillis: Self.now - 1, nowMillis: Self.now) == nil)
    }

    @Test(arguments: [1, 2, 3, 8, 30])
    func backoffDoublesUpToItsCapWithJitterInTheUpperHalf(_ attempt: Int) {
        let base = Duration.milliseconds(500), cap = Duration.seconds(60)
        let full = min(cap.millis, base.millis << (attempt - 1))
        #expect(RetryPolicy.backoff(afterAttempt: attempt, base: base, cap: cap, jitter: 0).millis == full / 2)
        #expect(RetryPolicy.backoff(afterAttempt: attempt, base: base, cap: cap, jitter: 1).millis == full)
    }
}
