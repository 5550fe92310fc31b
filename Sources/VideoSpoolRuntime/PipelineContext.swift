public import Logging
import Synchronization
public import VideoSpoolCore

/// What every service of the pipeline shares: the store, time, ids, the rules and the counters.
public struct PipelineContext: Sendable {
    public let store: any JobStore
    public let time: any TimeSource
    public let ids: IdentifierSource
    private let policies: PolicyStore
    public let counters: PipelineCounters
    public let heartbeats: Heartbeats
    /// Completion times of finished jobs, for the learned poll schedule.
    public let completionTimes: CompletionTimeLearner
    /// Whether this daemon may act on its jobs right now (always, with one owner).
    public let ownership: Ownership
    /// What the services count and time (docs/metrics.md).
    public let metrics: PipelineMetrics
    public let logger: Logger

    public init(
        store: any JobStore,
        time: any TimeSource,
        ids: IdentifierSource = IdentifierSource(),
        policy: PipelinePolicy,
        counters: PipelineCounters = PipelineCounters(),
        heartbeats: Heartbeats = Heartbeats(interval: nil),
        completionTimes: CompletionTimeLearner = CompletionTimeLearner(),
        ownership: Ownership = Ownership(registration: InstanceRegistration(id: InstanceID("local"), leaseDuration: nil)),
        metrics: PipelineMetrics = .disabled,
        logger: Logger
    ) {
        self.store = store
        self.time = time
        self.ids = ids
        self.policies = PolicyStore(policy)
        self.counters = counters
        self.heartbeats = heartbeats
        self.completionTimes = completionTimes
        self.ownership = ownership
        self.metrics = metrics
        self.logger = logger
    }

    /// The rules in force now (they change on reload).
    public var policy: PipelinePolicy { policies.policy }

    public var machine: JobStateMachine {
        JobStateMachine(policy: policies.policy, completionTimes: completionTimes.model)
    }

    /// Replaces the rules; jobs follow them from their next event on (configuration reload).
    public func updatePolicy(_ policy: PipelinePolicy) {
        policies.policy = policy
    }

    /// Records that `loop` went round, and sleeps until `deadline` or a signal, but never past the
    /// loop's next heartbeat.
    func idle(_ loop: Heartbeats.Loop, on wake: WakeSignal, until deadline: Timestamp?) async {
        let now = time.now()
        heartbeats.beat(loop, at: now)
        await wake.wait(until: heartbeats.wakeDeadline(deadline, now: now), time: time)
    }

    /// Commits on behalf of `loop`, from the loop's own task: while the store cannot be written
    /// the loop waits here on purpose, and the watchdog counts it as alive for as long as the store
    /// says so (``Heartbeats/waitingForStore(_:time:_:)``).
    func commit(_ changes: [StoreChange], for loop: Heartbeats.Loop) async throws {
        try await heartbeats.waitingForStore(loop, time: time) { try await timedCommit(changes) }
    }

    /// Commits, timing the store's answer (a failed commit is timed too: it waited as long).
    func timedCommit(_ changes: [StoreChange]) async throws {
        let started = ContinuousClock.now
        defer { metrics.storeCommit(latency: .now - started) }
        try await store.commit(changes)
    }

    /// A logger carrying one job's metadata, for everything done on its behalf.
    func logger(for job: Job) -> Logger {
        var logger = self.logger
        logger[metadataKey: "job.id"] = "\(job.id)"
        logger[metadataKey: "model"] = "\(job.model)"
        if let generationID = job.generationID { logger[metadataKey: "generation.id"] = "\(generationID)" }
        return logger
    }
}

/// The pipeline's rules, shared by the services and replaced on reload.
final class PolicyStore: Sendable {
    private let state: Mutex<PipelinePolicy>

    init(_ policy: PipelinePolicy) {
        state = Mutex(policy)
    }

    var policy: PipelinePolicy {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
