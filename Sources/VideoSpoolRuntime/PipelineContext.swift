public import Logging
public import VideoSpoolCore

/// What every service of the pipeline shares: the store, time, ids, the rules and the counters.
public struct PipelineContext: Sendable {
    public let store: any JobStore
    public let time: any TimeSource
    public let ids: IdentifierSource
    public let machine: JobStateMachine
    public let counters: PipelineCounters
    public let logger: Logger

    public init(
        store: any JobStore,
        time: any TimeSource,
        ids: IdentifierSource = IdentifierSource(),
        policy: PipelinePolicy,
        counters: PipelineCounters = PipelineCounters(),
        logger: Logger
    ) {
        self.store = store
        self.time = time
        self.ids = ids
        self.machine = JobStateMachine(policy: policy)
        self.counters = counters
        self.logger = logger
    }

    public var policy: PipelinePolicy { machine.policy }

    /// A logger carrying one job's metadata, for everything done on its behalf.
    func logger(for job: Job) -> Logger {
        var logger = self.logger
        logger[metadataKey: "job.id"] = "\(job.id)"
        logger[metadataKey: "model"] = "\(job.model)"
        if let generationID = job.generationID { logger[metadataKey: "generation.id"] = "\(generationID)" }
        return logger
    }
}
