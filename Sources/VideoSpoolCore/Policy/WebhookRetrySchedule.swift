/// The delays between webhook attempts. The first attempt is immediate; after it, one retry per
/// entry (default: the Standard Webhooks example, about 3 days in all).
public struct WebhookRetrySchedule: Sendable, Hashable {
    public var delays: [Duration]
    public var jitter: Double
    /// Floor for the next delay after a timeout or 429: the receiver is overloaded (Svix: 60 s).
    public var overloadPenalty: Duration
    /// How far past the scheduled delay a receiver's `Retry-After` may push the next attempt.
    public var maximumRetryAfterExtension: Duration

    public static let standardDelays: [Duration] = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400].map {
        .seconds($0)
    }

    public init(
        delays: [Duration] = WebhookRetrySchedule.standardDelays,
        jitter: Double = 0.2,
        overloadPenalty: Duration = .seconds(60),
        maximumRetryAfterExtension: Duration = .seconds(3600)
    ) {
        self.delays = delays
        self.jitter = jitter
        self.overloadPenalty = overloadPenalty
        self.maximumRetryAfterExtension = maximumRetryAfterExtension
    }

    /// Attempts in all: the immediate one plus one per delay.
    public var maximumAttempts: Int { delays.count + 1 }

    /// The delay after `attempts` failed attempts, or `nil` when the schedule is used up.
    public func delay(
        afterAttempts attempts: Int,
        retryAfter: Duration?,
        overloaded: Bool,
        using random: inout some RandomNumberGenerator
    ) -> Duration? {
        guard attempts >= 1, attempts <= delays.count else { return nil }
        let base = delays[attempts - 1]
        var seconds = Backoff.jittered(base.secondsDouble, jitter: jitter, using: &random)
        if overloaded { seconds = max(seconds, overloadPenalty.secondsDouble) }
        if let retryAfter {
            let ceiling = (base + maximumRetryAfterExtension).secondsDouble
            seconds = max(seconds, min(retryAfter.secondsDouble, ceiling))
        }
        return .seconds(double: seconds)
    }
}
