/// What the daemon may send to the API, and when: one budget for submissions and polls, which
/// share the API key and so the API's limits.
///
/// - A ``TokenBucket`` caps requests per second (`api.max_requests_per_second`). Submissions leave
///   the last fifth of the burst to polls, so a burst of new files never delays polls of
///   generations already paid for. When polls alone use the whole rate, submissions wait: each
///   new generation would only add polls the budget cannot carry.
/// - ``AdaptiveConcurrency`` lowers the number of requests in flight on 429 and restores it.
/// - A 429 with `Retry-After` holds every request, not only the one that got it: the limit is the
///   key's, so the next request of any kind would meet it too.
public struct RequestBudget: Sendable {
    public enum Kind: Sendable, Hashable {
        case submission
        case poll
    }

    public enum Admission: Sendable, Hashable {
        case granted
        /// Nothing of this kind may be sent before this time.
        case wait(until: Timestamp)
    }

    /// How a request ended, as far as the budget cares.
    public enum Outcome: Sendable, Hashable {
        /// Answered below 500, and not with a rate limit: the API took the request within its limits.
        case answered
        /// HTTP 429, with its `Retry-After` delay if it had one.
        case rateLimited(retryAfter: Duration?)
        /// No answer (timeout, connection error) or a server error: says nothing about the limits.
        case inconclusive
    }

    /// What changed, for the runtime to apply and log.
    public struct Effects: Sendable, Hashable {
        public var concurrency: AdaptiveConcurrency.Change?
        public var hold: Hold?

        public init(concurrency: AdaptiveConcurrency.Change? = nil, hold: Hold? = nil) {
            self.concurrency = concurrency
            self.hold = hold
        }
    }

    public enum Hold: Sendable, Hashable {
        /// Requests are held until this time; they were not before.
        case began(until: Timestamp)
        /// A hold in force now lasts until this later time.
        case extended(until: Timestamp)
    }

    /// A `Retry-After` longer than this holds requests only this long (the job that got it still
    /// waits the full time): one absurd header must not stop the daemon for hours.
    public static let maximumHold: Duration = .seconds(300)
    /// The share of the burst that only polls may use.
    static let pollReserveShare = 0.2

    private var bucket: TokenBucket
    public private(set) var concurrency: AdaptiveConcurrency
    public private(set) var heldUntil: Timestamp?

    public init(
        requestsPerSecond: Double,
        maximumConcurrency: Int,
        adaptive: AdaptiveConcurrency.Configuration = AdaptiveConcurrency.Configuration(),
        now: Timestamp
    ) {
        self.bucket = TokenBucket(ratePerSecond: requestsPerSecond, now: now)
        self.concurrency = AdaptiveConcurrency(maximum: maximumConcurrency, configuration: adaptive)
    }

    public var requestsPerSecond: Double { bucket.ratePerSecond }

    private var pollReserve: Double { (bucket.capacity - 1) * Self.pollReserveShare }

    /// Takes the right to send one request of `kind` now, or says when to ask again.
    public mutating func admit(_ kind: Kind, now: Timestamp) -> Admission {
        if let heldUntil {
            if now < heldUntil { return .wait(until: heldUntil) }
            self.heldUntil = nil
        }
        let reserve = kind == .poll ? 0 : pollReserve
        if bucket.take(now: now, keeping: reserve) { return .granted }
        return .wait(until: bucket.nextToken(now: now, keeping: reserve))
    }

    /// Returns an admission that was not used (the request was not sent after all).
    public mutating func unused(now: Timestamp) {
        bucket.giveBack(now: now)
    }

    /// A request sent at `sentAt` ended at `now` with `outcome`.
    public mutating func requestFinished(_ outcome: Outcome, sentAt: Timestamp, now: Timestamp) -> Effects {
        switch outcome {
        case .answered:
            return Effects(concurrency: concurrency.succeeded())
        case .inconclusive:
            return Effects()
        case .rateLimited(let retryAfter):
            var effects = Effects(concurrency: concurrency.rateLimited(sentAt: sentAt, now: now))
            if let retryAfter, retryAfter > .zero {
                let until = now + min(retryAfter, Self.maximumHold)
                if let heldUntil, heldUntil > now {
                    if until > heldUntil {
                        self.heldUntil = until
                        effects.hold = .extended(until: until)
                    }
                } else {
                    heldUntil = until
                    effects.hold = .began(until: until)
                }
            }
            return effects
        }
    }

    /// New limits from a configuration reload.
    public mutating func reconfigure(
        requestsPerSecond: Double,
        maximumConcurrency: Int,
        now: Timestamp
    ) -> AdaptiveConcurrency.Change? {
        if requestsPerSecond != bucket.ratePerSecond { bucket.setRate(requestsPerSecond, now: now) }
        return concurrency.setMaximum(maximumConcurrency)
    }
}

extension RequestBudget.Outcome {
    /// Classifies what the HTTP adapter observed.
    public init(_ exchange: APIExchange, now: Timestamp) {
        switch exchange {
        case .response(let response) where response.statusCode == 429:
            self = .rateLimited(retryAfter: response.retryAfter?.delay(from: now))
        case .response(let response) where response.statusCode < 500:
            self = .answered
        case .response, .notSent, .outcomeUnknown:
            self = .inconclusive
        }
    }
}
