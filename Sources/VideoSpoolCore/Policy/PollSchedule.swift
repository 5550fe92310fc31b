/// When to poll a generation: a first delay after submission, then a jittered fixed interval,
/// until the deadline.
public struct PollSchedule: Sendable, Hashable {
    public var firstDelay: Duration
    public var interval: Duration
    public var jitter: Double
    /// Measured from submission; a generation still running at a poll past this fails with `timeout`.
    public var deadline: Duration
    /// Backoff for failed polls (transport errors, 429, 5xx); never longer than the deadline allows.
    public var failureBackoff: Backoff

    public init(
        firstDelay: Duration = .seconds(30),
        interval: Duration = .seconds(15),
        jitter: Double = 0.1,
        deadline: Duration = .seconds(1800),
        failureBackoff: Backoff = Backoff(initial: .seconds(5), maximum: .seconds(120))
    ) {
        self.firstDelay = firstDelay
        self.interval = interval
        self.jitter = jitter
        self.deadline = deadline
        self.failureBackoff = failureBackoff
    }

    public func deadline(submittedAt: Timestamp) -> Timestamp {
        submittedAt + deadline
    }

    public func firstPoll(submittedAt: Timestamp) -> Timestamp {
        min(submittedAt + firstDelay, deadline(submittedAt: submittedAt))
    }

    public func nextPoll(now: Timestamp, submittedAt: Timestamp, using random: inout some RandomNumberGenerator)
        -> Timestamp
    {
        let delay = Backoff.jittered(interval.secondsDouble, jitter: jitter, using: &random)
        return min(now + .seconds(double: delay), deadline(submittedAt: submittedAt))
    }
}
