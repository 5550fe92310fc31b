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

        public var description: String {
            var text = "\(queued) queued, \(submitting + generating) generating, \(delivering) delivering, "
                + "\(completed) done, \(failed) failed, \(rejected) rejected"
            if let submissionsPaused { text += "; submissions paused: \(submissionsPaused)" }
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
