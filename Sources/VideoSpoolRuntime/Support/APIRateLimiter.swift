public import Logging
import Synchronization
public import VideoSpoolCore

/// The gate every API request passes, submissions and polls alike: requests per second, adaptive
/// concurrency and `Retry-After` holds (``RequestBudget``), the concurrency applied to the shared
/// request ``RequestSlots``.
///
/// It never suspends. The service loops must keep beating while they wait, so a refused loop is
/// told when to ask again and idles until then: no job has a timer or a task of its own while it
/// waits, and jobs keep their order in their service's queue.
public final class APIRateLimiter: Sendable {
    /// What the status line shows.
    public struct Status: Sendable, Hashable {
        public var concurrencyLimit: Int
        public var maximumConcurrency: Int
        public var heldUntil: Timestamp?

        public init(concurrencyLimit: Int, maximumConcurrency: Int, heldUntil: Timestamp? = nil) {
            self.concurrencyLimit = concurrencyLimit
            self.maximumConcurrency = maximumConcurrency
            self.heldUntil = heldUntil
        }
    }

    private let budget: Mutex<RequestBudget>
    private let slots: RequestSlots
    private let time: any TimeSource
    private let logger: Logger
    private let metrics: PipelineMetrics

    /// - Parameters:
    ///   - slots: the request slots whose limit follows the adaptive concurrency.
    public init(
        requestsPerSecond: Double,
        maximumConcurrency: Int,
        slots: RequestSlots,
        time: any TimeSource,
        logger: Logger,
        adaptive: AdaptiveConcurrency.Configuration = AdaptiveConcurrency.Configuration(),
        metrics: PipelineMetrics = .disabled
    ) {
        self.budget = Mutex(
            RequestBudget(
                requestsPerSecond: requestsPerSecond,
                maximumConcurrency: maximumConcurrency,
                adaptive: adaptive,
                now: time.now()
            )
        )
        self.slots = slots
        self.time = time
        self.logger = logger
        self.metrics = metrics
        slots.setLimit(maximumConcurrency)
    }

    /// Takes the right to send one request of `kind` now, or says when to ask again. Take a
    /// request slot first: a token is then never spent on a request that cannot go.
    public func admit(_ kind: RequestBudget.Kind) -> RequestBudget.Admission {
        let now = time.now()
        return budget.withLock { $0.admit(kind, now: now) }
    }

    /// Gives back an admission whose request was not sent after all.
    public func unused() {
        let now = time.now()
        budget.withLock { $0.unused(now: now) }
    }

    /// Reports how a request sent at `sentAt` ended. Call it before releasing the request's slot,
    /// so the slot is released under the limit this answer set.
    public func requestFinished(_ exchange: APIExchange, sentAt: Timestamp) {
        let now = time.now()
        let outcome = RequestBudget.Outcome(exchange, now: now)
        let (effects, status) = budget.withLock { budget in
            let effects = budget.requestFinished(outcome, sentAt: sentAt, now: now)
            // Applied under the lock, so two answers close together reach the slots in order.
            if effects.concurrency != nil { slots.setLimit(budget.concurrency.limit) }
            return (effects, Self.status(of: budget))
        }
        log(effects, status: status)
    }

    /// New limits from a configuration reload.
    public func reconfigure(requestsPerSecond: Double, maximumConcurrency: Int) {
        let now = time.now()
        let (change, status) = budget.withLock { budget in
            let change = budget.reconfigure(
                requestsPerSecond: requestsPerSecond,
                maximumConcurrency: maximumConcurrency,
                now: now
            )
            slots.setLimit(budget.concurrency.limit)
            return (change, Self.status(of: budget))
        }
        if change != nil, status.concurrencyLimit < status.maximumConcurrency {
            logger.notice(
                "API concurrency stays reduced after a reload",
                metadata: [
                    "api.concurrency.limit": "\(status.concurrencyLimit)",
                    "api.concurrency.maximum": "\(status.maximumConcurrency)",
                ]
            )
        }
    }

    /// `api.max_requests_per_second` in force.
    public var requestsPerSecond: Double {
        budget.withLock { $0.requestsPerSecond }
    }

    public var status: Status {
        budget.withLock { Self.status(of: $0) }
    }

    private static func status(of budget: RequestBudget) -> Status {
        Status(
            concurrencyLimit: budget.concurrency.limit,
            maximumConcurrency: budget.concurrency.maximum,
            heldUntil: budget.heldUntil
        )
    }

    /// One line per change of the limit or hold, never one per request.
    private func log(_ effects: RequestBudget.Effects, status: Status) {
        let metadata: Logger.Metadata = [
            "api.concurrency.limit": "\(status.concurrencyLimit)",
            "api.concurrency.maximum": "\(status.maximumConcurrency)",
        ]
        switch effects.concurrency {
        case .decreased?:
            metrics.apiConcurrencyReduced()
            logger.notice(
                "API concurrency reduced after HTTP 429",
                metadata: metadata.merging(["event": "api.concurrency.reduced"]) { $1 }
            )
        case .increased(_, let to)? where to >= status.maximumConcurrency:
            logger.notice(
                "API concurrency recovered",
                metadata: metadata.merging(["event": "api.concurrency.recovered"]) { $1 }
            )
        case .increased?:
            logger.debug("API concurrency raised", metadata: metadata)
        case nil:
            break
        }
        switch effects.hold {
        case .began(let until)?:
            metrics.apiHoldBegan()
            logger.notice(
                "API requests held for Retry-After",
                metadata: ["event": "api.requests.held", "resume.at": "\(until)"]
            )
        case .extended(let until)?:
            logger.debug("API request hold extended", metadata: ["resume.at": "\(until)"])
        case nil:
            break
        }
    }
}
