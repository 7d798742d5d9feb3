import OrderdConfig
import OrderdExecutor
import OrderdStore
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// What to record for a durable task after an attempt, or before one: a pure function of the outcome, the
/// attempt number, the kind's policy and the clock, kept apart from the code that claims, records, counts and
/// logs, so every case can be tested on a table.
///
/// - A 2xx (the handler returned) is done.
/// - A permanent failure (the receiver rejected the request itself: 4xx other than 408, 425 and 429) is dead at
///   once: retrying cannot help.
/// - Anything else (408, 425, 429, 5xx, a timeout, a connection failure, a stuck attempt) is retried after the
///   backoff, unless it was the last attempt `max_attempts` allows, or the next attempt would start past
///   `max_age`: then it is dead.
/// - An attempt that never started, or was cancelled by a stop, is not the task's fault: the lease is released
///   and no attempt is counted.
package enum RetryPolicy {
    /// Why a task ended dead; the `reason` label of `orderd_tasks_dead_total`.
    package enum DeadReason: String, Sendable, CaseIterable {
        /// The receiver rejected the request itself (a permanent failure).
        case rejected
        /// `max_attempts` attempts failed.
        case attempts
        /// Older than `max_age` before an attempt could start, or the next one would be.
        case expired
        /// The row could not be read (a kind this orderd does not know, its order missing).
        case unreadable
        /// Over `task.sms.per_recipient`: written dead with its order, never attempted.
        case throttled
    }

    package enum Decision: Sendable, Equatable {
        case done
        /// Failed; the next attempt is due at `atMillis`.
        case retry(atMillis: Int64, error: String)
        case dead(DeadReason, message: String)
        /// Not attempted: give up the lease, count nothing.
        case release
    }

    /// The decision after an attempt. `attempt` is 1 for the first; `backoff` is the wait before the next one
    /// (`backoff(afterAttempt:base:cap:jitter:)`), worked out only when a retry may follow (its jitter reads the
    /// system's random generator, a syscall every successful task would otherwise pay); `timeout` names the
    /// attempt's deadline in messages.
    package static func decide(
        _ outcome: ExecutorOutcome, attempt: Int, policy: TaskPolicy, ageFromMillis: Int64, nowMillis: Int64,
        backoff: @autoclosure () -> Duration
    ) -> Decision {
        let error: String
        switch outcome {
        case .completed:
            return .done
        case .notStarted, .cancelledAtStop:
            return .release
        case .failed(let failure, _):
            if let failure = failure as? FollowUpError {
                if failure.isPermanent { return .dead(.rejected, message: "rejected: \(failure.description)") }
                error = failure.description
            } else {
                error = "\(failure)"
            }
        case .timedOut:
            error = "timed out after \(ConfigValue.formatDuration(policy.timeout))"
        case .stuck(let duration):
            error = "stuck: still running \(duration) after its deadline was cancelled"
        }
        if attempt >= policy.maxAttempts {
            return .dead(.attempts, message: "gave up after \(attempt) attempts: \(error)")
        }
        let retryAt = nowMillis + backoff().millis
        if retryAt - ageFromMillis > policy.maxAge.millis {
            return .dead(
                .expired,
                message: "gave up: the next attempt would be past max_age \(ConfigValue.formatDuration(policy.maxAge)): \(error)")
        }
        return .retry(atMillis: retryAt, error: error)
    }

    /// Before an attempt: dead when the task is already older than `max_age`, else nil (go ahead).
    package static func beforeAttempt(policy: TaskPolicy, ageFromMillis: Int64, nowMillis: Int64) -> Decision? {
        guard nowMillis - ageFromMillis > policy.maxAge.millis else { return nil }
        return .dead(
            .expired, message: "expired: older than max_age \(ConfigValue.formatDuration(policy.maxAge)) before this attempt")
    }

    /// Exponential: `base` × 2^(attempt-1), at most `cap`, with "equal jitter": `jitter` (0...1) picks a point
    /// in the upper half, so tasks that failed together do not come back together.
    package static func backoff(afterAttempt attempt: Int, base: Duration, cap: Duration, jitter: Double) -> Duration {
        let full = min(Double(cap.millis), Double(base.millis) * pow(2, Double(min(max(attempt, 1) - 1, 40))))
        return .milliseconds(Int64(full / 2 + full / 2 * min(max(jitter, 0), 1)))
    }
}
