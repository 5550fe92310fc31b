import Synchronization
public import VideoSpoolCore

/// The completion times learned so far, shared by the services: fed by every completed job and
/// seeded from the store at start-up, read (as a snapshot) whenever a poll is scheduled.
public final class CompletionTimeLearner: Sendable {
    private let state: Mutex<CompletionTimeModel>

    public init(limits: CompletionTimeModel.Limits = CompletionTimeModel.Limits()) {
        state = Mutex(CompletionTimeModel(limits: limits))
    }

    /// A snapshot; later observations do not change it.
    public var model: CompletionTimeModel { state.withLock { $0 } }

    /// Learns from a job that has just finished, if it has something to teach.
    public func learn(from job: Job) {
        guard let observation = CompletionObservation(job: job) else { return }
        state.withLock { $0.record(observation) }
    }

    /// Learns from earlier observations, oldest first (so the newest stay in each window).
    public func seed(_ observations: [CompletionObservation]) {
        state.withLock { model in
            for observation in observations { model.record(observation) }
        }
    }
}
