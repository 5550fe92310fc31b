import Synchronization

/// Live counts for status lines and the demo: how many jobs are where.
public final class PipelineCounters: Sendable {
    public struct Snapshot: Sendable, Hashable, CustomStringConvertible {
        public var queued = 0
        public var submitting = 0
        public var generating = 0
        public var delivering = 0
        public var completed = 0
        public var failed = 0
        public var rejected = 0
        /// Why submissions are paused, if they are.
        public var submissionsPaused: String?
        /// The API request limits, while 429s keep them below the configuration.
        public var apiLimits: APIRateLimiter.Status?

        public var description: String {
            var text = "\(queued) queued, \(submitting + generating) generating, \(delivering) delivering, "
                + "\(completed) done, \(failed) failed, \(rejected) rejected"
            if let submissionsPaused { text += "; submissions paused: \(submissionsPaused)" }
            if let apiLimits {
                if apiLimits.concurrencyLimit < apiLimits.maximumConcurrency {
                    text += "; API concurrency \(apiLimits.concurrencyLimit) of \(apiLimits.maximumConcurrency) after 429s"
                }
                if let heldUntil = apiLimits.heldUntil { text += "; API requests held until \(heldUntil)" }
            }
            return text
        }
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func update(_ body: (inout Snapshot) -> Void) {
        state.withLock { body(&$0) }
    }
}
