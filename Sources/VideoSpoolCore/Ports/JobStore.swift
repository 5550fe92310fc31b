/// Durable job state. Every change the pipeline makes goes through ``commit(_:)`` before the side
/// effect that depends on it, so a restart finds each job where it was.
///
/// The port is small on purpose: SQLite is the embedded default, and a shared backend (PostgreSQL
/// for several hosts) can be added behind it without touching the pipeline.
public protocol JobStore: Sendable {
    /// Whether commits go through now or are waiting for the store to come back (a full disk, a
    /// database that is down). Cheap: read by the health reporter several times a second.
    var availability: StoreAvailability { get }

    /// Everything the runtime needs to resume after a restart.
    func recover() async throws -> RecoveredState

    /// Applies `changes` atomically and durably. Concurrent calls may share one transaction (group
    /// commit); each call returns only after its changes are on disk.
    func commit(_ changes: [StoreChange]) async throws

    /// Whether any job (in any phase) has this id.
    func containsJob(_ id: JobID) async throws -> Bool

    func job(_ id: JobID) async throws -> Job?

    /// A job (not a rejection) accepted at or after `since` from a file with exactly these bytes.
    func jobAccepted(fromFileWithSHA256 sha256: String, since: Timestamp) async throws -> (JobID, Timestamp)?

    /// The exact body to POST upstream for a job.
    func requestBody(for id: JobID) async throws -> [UInt8]?

    func event(id: String) async throws -> WebhookEvent?

    /// A job's finished event and its deliveries, with the outcome version they reflect.
    func outcome(for id: JobID) async throws -> OutcomeSnapshot?

    /// What the most recently completed jobs (at most `limit` of them) tell about completion
    /// times, oldest first; jobs that tell nothing (see ``CompletionObservation``) are skipped.
    func recentCompletions(limit: Int) async throws -> [CompletionObservation]

    /// Deliveries that ended `failed` (the retry schedule ran out) at or after `since`, for
    /// `videospool redeliver --failed-since`.
    func failedDeliveries(since: Timestamp) async throws -> [Delivery]

    /// Finished jobs (any terminal phase) that ended before `cutoff`, with no delivery pending and
    /// their spool file settled: what retention may delete. At most `limit`, oldest first.
    func finishedJobs(before cutoff: Timestamp, limit: Int) async throws -> [Job]
}

/// A change to durable state; a batch of them is one transaction.
public enum StoreChange: Sendable {
    /// A new job (phase `queued`, or `rejected` when it only exists to carry a rejection webhook),
    /// with its request body and the spool file it came from (still in `incoming/`).
    case insertJob(Job, requestBody: [UInt8], source: SourceFile)
    /// A job's new state. Marks its outcome file out of date when the job is finished.
    case updateJob(Job)
    /// A webhook event and its deliveries (recorded before the first attempt).
    case insertEvent(WebhookEvent, deliveries: [Delivery])
    /// One more delivery of an existing event (`videospool redeliver --url` to a new URL).
    case addDelivery(Delivery)
    /// A delivery's new state; marks its job's outcome file out of date.
    case updateDelivery(Delivery)
    /// The spool file of a job has left `incoming/`.
    case sourceSettled(JobID)
    /// The outcome file now reflects `version`.
    case outcomeWritten(JobID, version: Int)
    /// One delivery attempt's record (the delivery's new state is a separate `updateDelivery`).
    case recordDeliveryAttempt(DeliveryAttempt)
    /// Forgets a finished job entirely: its request, events, deliveries and history (retention).
    case deleteJob(JobID)
}

/// The spool file a job was read from, remembered until it has left `incoming/`, so that a restart
/// between commit and removal finishes the move instead of reading the file as a new request.
public struct SourceFile: Sendable, Hashable {
    public enum Disposition: String, Sendable, Hashable {
        /// Accepted: the file is deleted (the request lives in the store).
        case remove
        /// Rejected: the file moves to `rejected/` with this error document beside it.
        case reject
    }

    public let name: String
    /// Hex SHA-256 of the file's bytes: the same name with other content is a new request.
    public let sha256: String
    public let disposition: Disposition
    /// The `.error.json` document, for rejected files.
    public let errorDocument: [UInt8]?

    public init(name: String, sha256: String, disposition: Disposition, errorDocument: [UInt8]? = nil) {
        self.name = name
        self.sha256 = sha256
        self.disposition = disposition
        self.errorDocument = errorDocument
    }
}

/// What ``JobStore/recover()`` returns.
public struct RecoveredState: Sendable {
    /// Jobs in `queued`, `submitting` or `generating`.
    public var activeJobs: [Job]
    /// Deliveries still `pending`.
    public var pendingDeliveries: [Delivery]
    /// Jobs whose outcome file is older than their state.
    public var staleOutcomes: [JobID]
    /// Spool files committed but not yet removed from `incoming/`.
    public var unsettledSources: [(jobID: JobID, source: SourceFile)]
    /// How many jobs ended in each terminal phase so far (for status lines).
    public var finishedCounts: [JobPhase: Int]

    public init(
        activeJobs: [Job] = [],
        pendingDeliveries: [Delivery] = [],
        staleOutcomes: [JobID] = [],
        unsettledSources: [(jobID: JobID, source: SourceFile)] = [],
        finishedCounts: [JobPhase: Int] = [:]
    ) {
        self.activeJobs = activeJobs
        self.pendingDeliveries = pendingDeliveries
        self.staleOutcomes = staleOutcomes
        self.unsettledSources = unsettledSources
        self.finishedCounts = finishedCounts
    }
}

/// Inputs of an outcome file.
public struct OutcomeSnapshot: Sendable {
    public var job: Job
    public var event: WebhookEvent
    public var deliveries: [Delivery]
    /// Increases with every change that affects the file.
    public var version: Int

    public init(job: Job, event: WebhookEvent, deliveries: [Delivery], version: Int) {
        self.job = job
        self.event = event
        self.deliveries = deliveries
        self.version = version
    }
}
