/// Exponential backoff with multiplicative jitter, honouring a server's `Retry-After`.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double
    /// Each delay is scaled by a random factor in `1 ± jitter`.
    public var jitter: Double
    /// A `Retry-After` longer than this is cut to it (protects against absurd values).
    public var maximumRetryAfter: Duration

    public init(
        initial: Duration = .seconds(2),
        maximum: Duration = .seconds(300),
        multiplier: Double = 2,
        jitter: Double = 0.2,
        maximumRetryAfter: Duration = .seconds(3600)
    ) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
        self.maximumRetryAfter = maximumRetryAfter
    }

    /// The delay before retry number `retry` (1 for the first retry). A `Retry-After` wins when it
    /// asks for longer than the backoff would wait.
    public func delay(
        forRetry retry: Int,
        retryAfter: Duration? = nil,
        using random: inout some RandomNumberGenerator
    ) -> Duration {
        let exponent = Double(max(retry - 1, 0))
        let base = min(initial.secondsDouble * pow(multiplier, min(exponent, 60)), maximum.secondsDouble)
        var seconds = Self.jittered(base, jitter: jitter, using: &random)
        if let retryAfter {
            seconds = max(seconds, min(retryAfter.secondsDouble, maximumRetryAfter.secondsDouble))
        }
        return .seconds(double: seconds)
    }

    static func jittered(_ seconds: Double, jitter: Double, using random: inout some RandomNumberGenerator) -> Double {
        guard jitter > 0 else { return seconds }
        return seconds * Double.random(in: (1 - jitter)...(1 + jitter), using: &random)
    }
}

/// `x` to the power `y` without Foundation.
func pow(_ x: Double, _ y: Double) -> Double {
    var result = 1.0
    var remaining = Int(y)
    var factor = x
    while remaining > 0 {
        if remaining & 1 == 1 { result *= factor }
        factor *= factor
        remaining >>= 1
    }
    return result
}
