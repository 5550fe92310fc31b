/// How long to keep trying to store a video: transient failures are retried with ``Backoff`` until
/// `results.deadline_seconds` after the first attempt; a permanent one ends it at once.
public struct VideoDownloadRetry: Sendable, Hashable {
    public var backoff: Backoff
    /// From the first attempt; past it the completed event goes out with `video.download_error`.
    public var deadline: Duration

    public init(
        backoff: Backoff = Backoff(initial: .seconds(5), maximum: .seconds(300)),
        deadline: Duration = .seconds(3600)
    ) {
        self.backoff = backoff
        self.deadline = deadline
    }

    public enum Decision: Sendable, Hashable {
        /// Try again after this long (never past the deadline: the last attempt starts at it).
        case retry(after: Duration)
        /// Stop and announce the failure.
        case giveUp
    }

    /// What to do after attempt number `attempt` (1 for the first) failed with `error`, `elapsed`
    /// after the first attempt started; `now` dates a `Retry-After` given as an HTTP date.
    public func decision(
        after error: VideoDownloadError,
        attempt: Int,
        elapsed: Duration,
        now: Timestamp,
        using random: inout some RandomNumberGenerator
    ) -> Decision {
        guard error.isTransient, elapsed < deadline else { return .giveUp }
        let retryAfter = error.retryAfter?.delay(from: now)
        let delay = backoff.delay(forRetry: attempt, retryAfter: retryAfter, using: &random)
        return .retry(after: min(delay, deadline - elapsed))
    }
}
