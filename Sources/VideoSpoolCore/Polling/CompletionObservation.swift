/// How long one generation took, as far as polling can tell: it was still running `after` its
/// submission and complete by `before`. Polling censors the true time to that interval; recording
/// the poll that saw completion instead would bias every estimate late by about half a poll
/// interval, and a schedule learned from its own late estimates would drift later every round.
public struct CompletionObservation: Sendable, Hashable {
    public var key: CompletionTimeKey
    /// Seconds from submission to the last report that said "still running".
    public var after: Double
    /// Seconds from submission to the report that said "completed".
    public var before: Double

    /// How much of the first-poll delay a generation that was already complete at its first poll
    /// is assumed to have taken at least. With nothing but the submission as a lower bound the
    /// interval would reach back to zero, spreading a few samples over times no generation takes
    /// and dragging the first poll far too early; half the delay is a safe floor (the first poll
    /// sits at a low quantile, so few jobs finish before it), and it still lets the first poll move
    /// earlier, halving its distance each round, if generations get faster.
    public static let firstPollLowerBoundFraction = 0.5

    public init(key: CompletionTimeKey, after: Double, before: Double) {
        self.key = key
        self.after = min(max(0, after), before)
        self.before = before
    }

    /// The observation a completed job provides, or `nil` when it provides none (not completed, or
    /// the running report before completion was lost to a restart).
    public init?(key: CompletionTimeKey, submittedAt: Timestamp?, lastRunningAt: Timestamp?, completedAt: Timestamp?) {
        guard let submittedAt, let lastRunningAt, let completedAt, completedAt >= lastRunningAt,
            lastRunningAt >= submittedAt
        else { return nil }
        let before = (completedAt - submittedAt).secondsDouble
        var after = (lastRunningAt - submittedAt).secondsDouble
        if after == 0 { after = before * Self.firstPollLowerBoundFraction }
        self.init(key: key, after: after, before: before)
    }

    /// The observation of a job that has just completed, if it provides one.
    public init?(job: Job) {
        guard job.phase == .completed else { return nil }
        self.init(
            key: CompletionTimeKey(job),
            submittedAt: job.submittedAt,
            lastRunningAt: job.lastRunningAt,
            completedAt: job.finishedAt
        )
    }
}
