/// How many API requests may be in flight at once, adapted to the API's answers (AIMD, as TCP's
/// congestion window): a 429 halves the limit, a run of successes adds one, never above the
/// configured maximum and never below one.
///
/// One overload shows up as 429s to every request that was already in flight. Those were sent
/// at the old limit and say nothing about the new one, so a 429 to a request sent before (or in
/// the same millisecond as) the last decrease does not decrease again: the cool-down window is one
/// round trip, however long requests take. An extra fixed cool-down may be set; by default there
/// is none, because with fast answers it would let a too-high limit draw 429s for its whole length.
public struct AdaptiveConcurrency: Sendable, Hashable {
    public struct Configuration: Sendable, Hashable {
        /// The limit is multiplied by this on a 429 (rounded down, at least 1).
        public var decreaseFactor: Double
        /// After a decrease, further 429s are not counted for at least this long.
        public var coolDown: Duration
        /// Growing back to the limit that last drew a 429 takes this many times the usual run of
        /// successes: that is where the API's limit probably is, so it is approached slowly.
        public var probeSlowdown: Int

        public init(decreaseFactor: Double = 0.5, coolDown: Duration = .zero, probeSlowdown: Int = 4) {
            self.decreaseFactor = decreaseFactor
            self.coolDown = coolDown
            self.probeSlowdown = probeSlowdown
        }
    }

    public enum Change: Sendable, Hashable {
        case decreased(from: Int, to: Int)
        case increased(from: Int, to: Int)
    }

    public let configuration: Configuration
    /// `api.max_concurrent_requests`.
    public private(set) var maximum: Int
    /// The limit in force now.
    public private(set) var limit: Int
    private var lastDecreaseAt: Timestamp?
    /// Successes since the last change of the limit (or the last 429).
    private var successes = 0
    /// The limit that last drew a 429, until the limit has grown past it.
    private var refusedAt: Int?

    public init(maximum: Int, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.maximum = max(maximum, 1)
        self.limit = self.maximum
    }

    public var isReduced: Bool { limit < maximum }

    /// A request sent at `sentAt` was answered 429 at `now`.
    public mutating func rateLimited(sentAt: Timestamp, now: Timestamp) -> Change? {
        successes = 0
        if let lastDecreaseAt, sentAt <= lastDecreaseAt || now < lastDecreaseAt + configuration.coolDown {
            return nil
        }
        lastDecreaseAt = now
        refusedAt = limit
        let previous = limit
        limit = max(Int(Double(limit) * configuration.decreaseFactor), 1)
        return limit == previous ? nil : .decreased(from: previous, to: limit)
    }

    /// A request was answered without a rate limit. After as many successes in a row as the limit
    /// (about one round of every slot) the limit grows by one; the step back to the limit that last
    /// drew a 429 takes ``Configuration/probeSlowdown`` times as many.
    public mutating func succeeded() -> Change? {
        guard limit < maximum else { return nil }
        successes += 1
        let probing = refusedAt == limit + 1
        guard successes >= limit * (probing ? max(configuration.probeSlowdown, 1) : 1) else { return nil }
        successes = 0
        limit += 1
        if let refusedAt, limit >= refusedAt { self.refusedAt = nil }
        return .increased(from: limit - 1, to: limit)
    }

    /// A new maximum (configuration reload). An unreduced limit follows it; a reduced one is only
    /// cut to it, and recovers from where it is.
    public mutating func setMaximum(_ maximum: Int) -> Change? {
        let maximum = max(maximum, 1)
        let previous = limit
        limit = limit == self.maximum ? maximum : min(limit, maximum)
        self.maximum = maximum
        successes = 0
        if limit < previous { return .decreased(from: previous, to: limit) }
        if limit > previous { return .increased(from: previous, to: limit) }
        return nil
    }
}
