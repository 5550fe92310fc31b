/// A token bucket: requests flow at a steady rate, with bursts up to the bucket's capacity. Time is
/// passed in; a clock stepped backwards only delays the refill, it never adds tokens.
public struct TokenBucket: Sendable, Hashable {
    public private(set) var ratePerSecond: Double
    /// One second's worth (at least one token): a burst may use a second's budget at once.
    public private(set) var capacity: Double
    private var tokens: Double
    private var updatedAt: Timestamp

    /// A full bucket.
    public init(ratePerSecond: Double, now: Timestamp) {
        precondition(ratePerSecond > 0, "Invalid rate: \(ratePerSecond)")
        self.ratePerSecond = ratePerSecond
        self.capacity = max(ratePerSecond, 1)
        self.tokens = capacity
        self.updatedAt = now
    }

    /// Tokens available now (fractional).
    public mutating func available(now: Timestamp) -> Double {
        refill(now: now)
        return tokens
    }

    /// Takes one token if at least `reserve` tokens would be left; `false` otherwise.
    public mutating func take(now: Timestamp, keeping reserve: Double = 0) -> Bool {
        refill(now: now)
        // The tolerance absorbs rounding, so a token due at ``nextToken(now:keeping:)`` is there.
        guard tokens + 1e-9 >= 1 + reserve else { return false }
        tokens -= 1
        return true
    }

    /// When ``take(now:keeping:)`` will next succeed (`now` if it would now).
    public mutating func nextToken(now: Timestamp, keeping reserve: Double = 0) -> Timestamp {
        refill(now: now)
        let missing = 1 + reserve - tokens
        guard missing > 1e-9 else { return now }
        let milliseconds = (missing * 1000 / ratePerSecond).rounded(.up)
        return now + .milliseconds(Int64(min(milliseconds, 86_400_000)))
    }

    /// Returns a token taken for a request that was not sent after all.
    public mutating func giveBack(now: Timestamp) {
        refill(now: now)
        tokens = min(tokens + 1, capacity)
    }

    /// Changes the rate (configuration reload); the tokens saved so far stay, up to the new capacity.
    public mutating func setRate(_ ratePerSecond: Double, now: Timestamp) {
        precondition(ratePerSecond > 0, "Invalid rate: \(ratePerSecond)")
        refill(now: now)
        self.ratePerSecond = ratePerSecond
        capacity = max(ratePerSecond, 1)
        tokens = min(tokens, capacity)
    }

    private mutating func refill(now: Timestamp) {
        let elapsed = now.millisecondsSinceEpoch - updatedAt.millisecondsSinceEpoch
        updatedAt = now
        guard elapsed > 0, tokens < capacity else { return }
        tokens = min(capacity, tokens + Double(elapsed) * ratePerSecond / 1000)
    }
}
