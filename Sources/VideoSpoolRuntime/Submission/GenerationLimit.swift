public import Logging
import Synchronization
public import VideoSpoolCore

/// How many generations may be in flight at once, adapted to the API's answers to submissions
/// (``AdaptiveConcurrency``, as for requests): a 429 to a submission halves the limit, a run of
/// accepted submissions adds one, never above `api.max_in_flight_generations` and never below one.
/// The limit is applied to the generation ``RequestSlots``.
///
/// Only a submission adds a generation, so a 429 to one is read as the API's concurrency limit
/// ("You have hit a rate or concurrency limit"); 429s to polls leave this limit alone (they lower
/// the request concurrency, as every 429 does). Budgets guard the money; this finds the account's
/// concurrency, so the configured maximum can be high.
public final class GenerationLimit: Sendable {
    public struct Status: Sendable, Hashable {
        public var limit: Int
        public var maximum: Int

        public init(limit: Int, maximum: Int) {
            self.limit = limit
            self.maximum = maximum
        }

        public var isReduced: Bool { limit < maximum }
    }

    private let concurrency: Mutex<AdaptiveConcurrency>
    private let slots: RequestSlots
    private let time: any TimeSource
    private let logger: Logger

    public init(maximum: Int, slots: RequestSlots, time: any TimeSource, logger: Logger) {
        self.concurrency = Mutex(AdaptiveConcurrency(maximum: maximum))
        self.slots = slots
        self.time = time
        self.logger = logger
        slots.setLimit(max(maximum, 1))
    }

    public var status: Status {
        concurrency.withLock { Status(limit: $0.limit, maximum: $0.maximum) }
    }

    /// How a submission sent at `sentAt` was answered. Call it before the job's generation slot is
    /// released, so the slot goes back under the limit this answer set.
    public func submissionAnswered(_ exchange: APIExchange, sentAt: Timestamp) {
        guard case .response(let response) = exchange else { return }
        let now = time.now()
        let (change, status) = concurrency.withLock { concurrency -> (AdaptiveConcurrency.Change?, Status) in
            let change: AdaptiveConcurrency.Change?
            switch response.statusCode {
            case 429: change = concurrency.rateLimited(sentAt: sentAt, now: now)
            case 200..<300: change = concurrency.succeeded()
            default: change = nil
            }
            // Under the lock, so two answers close together reach the slots in order.
            if change != nil { slots.setLimit(concurrency.limit) }
            return (change, Status(limit: concurrency.limit, maximum: concurrency.maximum))
        }
        log(change, status: status)
    }

    /// A new `api.max_in_flight_generations` (reload): an unreduced limit follows it; a reduced one
    /// is only cut to it and recovers from where it is.
    public func reconfigure(maximum: Int) {
        concurrency.withLock { concurrency in
            _ = concurrency.setMaximum(maximum)
            slots.setLimit(concurrency.limit)
        }
    }

    private func log(_ change: AdaptiveConcurrency.Change?, status: Status) {
        let metadata: Logger.Metadata = [
            "api.generations.limit": "\(status.limit)",
            "api.generations.maximum": "\(status.maximum)",
        ]
        switch change {
        case .decreased?:
            logger.notice(
                "Generations in flight limited after HTTP 429 to a submission",
                metadata: metadata.merging(["event": "api.generations.reduced"]) { $1 }
            )
        case .increased(_, let to)? where to >= status.maximum:
            logger.notice(
                "Generations in flight back to their maximum",
                metadata: metadata.merging(["event": "api.generations.recovered"]) { $1 }
            )
        case .increased?, nil:
            break
        }
    }
}
