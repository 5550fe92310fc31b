public import VideoSpoolCore

/// Submissions stopped by a budget (``BudgetReached``): nothing is sent until ``retryAt``, then one
/// job tries again (its reservation is the check); the others wait for its answer, so that a held
/// queue costs one transaction per retry, not one per job. Jobs stay queued throughout.
public struct BudgetHold: Sendable, Hashable {
    /// The limit that stopped submissions, and until when.
    public var reached: BudgetReached
    /// When one job tries again: when the window will have moved on enough, but no later than
    /// ``recheckInterval`` from now, since in-flight generations that end below their estimate (or
    /// fail) free budget earlier.
    public var retryAt: Timestamp
    /// Whether the retrying job's check is under way.
    public var probing = false

    public static let recheckInterval = Duration.seconds(60)

    public init(_ reached: BudgetReached, now: Timestamp) {
        self.reached = reached
        let recheck = now + Self.recheckInterval
        self.retryAt = reached.until.map { min($0, recheck) } ?? recheck
    }
}
