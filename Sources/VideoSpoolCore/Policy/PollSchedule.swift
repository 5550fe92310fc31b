/// When to poll a generation.
///
/// The fixed schedule polls a first delay after submission, then at a jittered fixed interval. The
/// learned schedule (the default) uses the completion times of earlier jobs with the same model,
/// resolution and duration (``CompletionTimeDistribution``): first poll when completion becomes
/// likely, dense polls while it is likely, backing off toward the fixed interval in the tail. A job
/// whose key has too few observations yet follows the fixed schedule. Both stop at the deadline.
public struct PollSchedule: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// From completion times learned per model, resolution and duration; fixed until learned.
        case learned
        /// `firstDelay`, then every `interval`.
        case fixed
    }

    public var mode: Mode
    /// Fixed schedule (and learned fallback): the first poll's delay after submission.
    public var firstDelay: Duration
    /// Fixed schedule (and learned fallback): the time between polls; also the learned schedule's
    /// longest interval, reached in the tail, and a cap on its dense interval.
    public var interval: Duration
    public var jitter: Double
    /// Measured from submission; a generation still running at a poll past this fails with `timeout`.
    public var deadline: Duration
    /// Backoff for failed polls (transport errors, 429, 5xx); never longer than the deadline allows.
    public var failureBackoff: Backoff
    /// Learned schedule: the time between polls while completion is likely. The expected delay
    /// between completion and the poll that sees it is about half of this. For Seedance's spread
    /// the best spacing is nearly even through the window (its hazard rate changes little), so the
    /// interval is what trades polls for delay: 4.5 s keeps the mean delay near 2.5 s with fewer
    /// polls than a 15 s loop (`PollScheduleComparison`).
    public var denseInterval: Duration
    /// Learned schedule: the first poll comes when this fraction of generations has completed.
    public var firstPollQuantile: Double
    /// Learned schedule: polls stay dense until this fraction of generations has completed.
    public var denseUntilQuantile: Double
    /// Learned schedule: past the dense window the interval grows by this many seconds per second
    /// waited, up to `interval`. In the tail completions are rarer, so each poll is less likely to
    /// find one; 0.25 reaches a 15 s interval about 40 s past the window.
    public var tailGrowth: Double

    public init(
        mode: Mode = .learned,
        firstDelay: Duration = .seconds(30),
        interval: Duration = .seconds(15),
        jitter: Double = 0.1,
        deadline: Duration = .seconds(1800),
        failureBackoff: Backoff = Backoff(initial: .seconds(5), maximum: .seconds(120)),
        denseInterval: Duration = .milliseconds(4500),
        firstPollQuantile: Double = 0.05,
        denseUntilQuantile: Double = 0.9,
        tailGrowth: Double = 0.25
    ) {
        self.mode = mode
        self.firstDelay = firstDelay
        self.interval = interval
        self.jitter = jitter
        self.deadline = deadline
        self.failureBackoff = failureBackoff
        self.denseInterval = denseInterval
        self.firstPollQuantile = firstPollQuantile
        self.denseUntilQuantile = denseUntilQuantile
        self.tailGrowth = tailGrowth
    }

    public func deadline(submittedAt: Timestamp) -> Timestamp {
        submittedAt + deadline
    }

    // MARK: - Fixed

    public func firstPoll(submittedAt: Timestamp) -> Timestamp {
        min(submittedAt + firstDelay, deadline(submittedAt: submittedAt))
    }

    public func nextPoll(now: Timestamp, submittedAt: Timestamp, using random: inout some RandomNumberGenerator)
        -> Timestamp
    {
        let delay = Backoff.jittered(interval.secondsDouble, jitter: jitter, using: &random)
        return min(now + .seconds(double: delay), deadline(submittedAt: submittedAt))
    }

    // MARK: - Learned

    /// The first poll of a job whose key has a learned distribution: when completion becomes likely.
    public func firstPoll(submittedAt: Timestamp, learned distribution: CompletionTimeDistribution) -> Timestamp {
        let offset = distribution.quantile(firstPollQuantile)
        return min(submittedAt + .seconds(double: offset), deadline(submittedAt: submittedAt))
    }

    /// The poll after one at `now` that found the generation still running.
    public func nextPoll(
        now: Timestamp,
        submittedAt: Timestamp,
        learned distribution: CompletionTimeDistribution,
        using random: inout some RandomNumberGenerator
    ) -> Timestamp {
        let waited = (now - submittedAt).secondsDouble
        let pastDenseWindow = max(0, waited - distribution.quantile(denseUntilQuantile))
        // `interval` caps the spacing even below `denseInterval`: an operator who asked for polls
        // every 2 s never waits longer than that.
        let spacing = min(interval.secondsDouble, denseInterval.secondsDouble + tailGrowth * pastDenseWindow)
        let delay = Backoff.jittered(spacing, jitter: jitter, using: &random)
        return min(now + .seconds(double: delay), deadline(submittedAt: submittedAt))
    }
}
