/// Durable job state. Every change the pipeline makes goes through ``commit(_:)`` before the side
/// effect that depends on it, so a restart finds each job where it was.
///
/// Two backends implement it: SQLite, the embedded default with one owner, and PostgreSQL, shared by
/// several daemons that hand jobs to each other (see WorkOwnership.swift). The pipeline runs the
/// same code on both.
public protocol JobStore: Sendable {
    /// Whether commits go through now or are waiting for the store to come back (a full disk, a
    /// database that is down). Cheap: read by the health reporter several times a second.
    var availability: StoreAvailability { get }

    /// Everything the runtime needs to resume after a restart.
    func recover() async throws -> RecoveredState

    /// Applies `changes` atomically and durably. Concurrent calls may share one transaction (group
    /// commit); each call returns only after its changes are on disk.
    func commit(_ changes: [StoreChange]) async throws

    /// Applies `changes` with the next commit, without a transaction of their own, and returns at
    /// once: for bookkeeping that a crash may lose because the next start redoes it (an outcome
    /// file written, a spool file gone). Never for anything a side effect depends on.
    func commitWithNext(_ changes: [StoreChange])

    /// Whether any job (in any phase) has this id.
    func containsJob(_ id: JobID) async throws -> Bool

    func job(_ id: JobID) async throws -> Job?

    /// A job (not a rejection) accepted at or after `since` from a file with exactly these bytes.
    func jobAccepted(fromFileWithSHA256 sha256: String, since: Timestamp) async throws -> (JobID, Timestamp)?

    /// The job another daemon sharing this spool directory already made of the file with this
    /// identity (``SourceFile/identity``), if any: the file is then left to that job, never read
    /// as a duplicate of itself. Always `nil` with one daemon per spool.
    func jobTaken(fromSource identity: String) async throws -> JobID?

    /// ``jobTaken(fromSource:)``, ``jobAccepted(fromFileWithSHA256:since:)`` and
    /// ``containsJob(_:)`` for a group of files at once: intake reads a group, then asks once (one
    /// read, one round trip on a shared store).
    func intakeFacts(
        identities: [String],
        sha256s: [String],
        jobIDs: [JobID],
        acceptedSince since: Timestamp
    ) async throws -> IntakeFacts

    /// The exact body to POST upstream for a job.
    func requestBody(for id: JobID) async throws -> [UInt8]?

    func event(id: String) async throws -> WebhookEvent?

    /// A job's finished event and its deliveries, with the outcome version they reflect.
    func outcome(for id: JobID) async throws -> OutcomeSnapshot?

    /// ``outcome(for:)`` of several jobs in one read (the outcome writer's batches); jobs without
    /// a finished event are left out. A networked store answers in a few round trips, not a few per job.
    func outcomes(for ids: [JobID]) async throws -> [JobID: OutcomeSnapshot]

    /// What the most recently completed jobs (at most `limit` of them) tell about completion
    /// times, oldest first; jobs that tell nothing (see ``CompletionObservation``) are skipped.
    func recentCompletions(limit: Int) async throws -> [CompletionObservation]

    /// Deliveries that ended `failed` (the retry schedule ran out) at or after `since`, for
    /// `videospool redeliver --failed-since`.
    func failedDeliveries(since: Timestamp) async throws -> [Delivery]

    /// Finished jobs (any terminal phase) that ended before `cutoff`, with no delivery pending and
    /// their spool file settled: what retention may delete. At most `limit`, oldest first.
    func finishedJobs(before cutoff: Timestamp, limit: Int) async throws -> [Job]

    // MARK: Ownership

    /// Registers this daemon as an owner of work. `previous` is an earlier run of this daemon (its
    /// id, remembered in the state directory); the caller holds the state directory's lock, so that
    /// run is dead and its jobs are released at once instead of when its lease runs out.
    func register(_ instance: InstanceDescription, replacing previous: InstanceID?) async throws -> InstanceRegistration

    /// Renews this daemon's lease. Call every `leaseDuration / 3`; a lease never renewed ends.
    func renewLease() async throws -> LeaseRenewal

    /// Releases the jobs of every instance whose lease ran out (by the store's clock). Any daemon
    /// may call it at any time; concurrent calls do the work once.
    func releaseExpiredInstances() async throws -> [ReleasedInstance]

    /// Takes released jobs, at most `limits`, each under a new fence, and collects what this
    /// daemon's spool owes: outcome files out of date, spool files not yet removed, and cancels
    /// that operators asked for on jobs this daemon holds. ``RecoveredState/finishedCounts`` is
    /// left empty.
    func claimReleasedWork(_ limits: ClaimLimits) async throws -> RecoveredState

    /// Takes one job for an operator command, if it is free or already this daemon's.
    func claimJob(_ id: JobID) async throws -> JobClaim

    /// Gives back every job this daemon holds and forgets the instance (a clean stop), so that
    /// other daemons take them at once instead of when the lease runs out.
    func releaseOwnership() async throws

    /// Announcements that work may be waiting: another daemon released jobs, queued a retry, or
    /// asked this one to cancel. A hint only (claims must also run on a timer); a store with one
    /// owner never announces anything.
    func workAnnouncements() -> AsyncStream<Void>
}

extension JobStore {
    /// One read per file: enough for a store in memory.
    public func intakeFacts(
        identities: [String],
        sha256s: [String],
        jobIDs: [JobID],
        acceptedSince since: Timestamp
    ) async throws -> IntakeFacts {
        var facts = IntakeFacts()
        for id in jobIDs where try await containsJob(id) { facts.existing.insert(id) }
        for identity in Set(identities) { facts.taken[identity] = try await jobTaken(fromSource: identity) }
        for sha256 in Set(sha256s) {
            facts.accepted[sha256] = try await jobAccepted(fromFileWithSHA256: sha256, since: since).map {
                IntakeFacts.Accepted(jobID: $0.0, at: $0.1)
            }
        }
        return facts
    }

    /// One read per job: enough for stores in memory.
    public func outcomes(for ids: [JobID]) async throws -> [JobID: OutcomeSnapshot] {
        var snapshots: [JobID: OutcomeSnapshot] = [:]
        for id in ids { snapshots[id] = try await outcome(for: id) }
        return snapshots
    }
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
    /// A generation id learned after the job was lost (its POST's answer came in after the lease
    /// ended). Facts from upstream are kept whatever the fence says, so that the video is not lost:
    /// a job still waiting in `submitting` becomes `generating` (free for any daemon to poll); a
    /// job that has ended keeps its phase and only records the id.
    case recordLateGeneration(JobID, generationID: String, submittedAt: Timestamp)
    /// Asks the daemon that holds a job to cancel it (it acts within a claim round).
    case requestCancel(JobID)
    /// Records a submission in the spend ledger at its learned estimate (``SpendEstimate``), after
    /// checking that it fits the budget (throws ``BudgetReached`` when it does not, failing the
    /// whole commit). Goes with the intent's `updateJob`. The entry is settled by the job's later
    /// updates (``SpendSettlement``) and outlives the job (retention never deletes it).
    case reserveSpend(SpendReservation)
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
    /// The file's identity in its spool (inode, size, modification time): daemons reading one
    /// shared spool directory see the same identity for the same file, and the store makes one job
    /// of it (``SourceAlreadyTaken``).
    public let identity: String?

    public init(
        name: String,
        sha256: String,
        disposition: Disposition,
        errorDocument: [UInt8]? = nil,
        identity: String? = nil
    ) {
        self.name = name
        self.sha256 = sha256
        self.disposition = disposition
        self.errorDocument = errorDocument
        self.identity = identity
    }
}

/// Another daemon sharing the spool directory already made a job of this very file.
public struct SourceAlreadyTaken: Error, Sendable, Hashable, CustomStringConvertible {
    public var jobID: JobID

    public init(jobID: JobID) {
        self.jobID = jobID
    }

    public var description: String { "the file is already job \(jobID) (taken by a daemon sharing this spool)" }
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
    /// Jobs this daemon holds that an operator asked to cancel from another host.
    public var cancelRequests: [JobID]

    public init(
        activeJobs: [Job] = [],
        pendingDeliveries: [Delivery] = [],
        staleOutcomes: [JobID] = [],
        unsettledSources: [(jobID: JobID, source: SourceFile)] = [],
        finishedCounts: [JobPhase: Int] = [:],
        cancelRequests: [JobID] = []
    ) {
        self.activeJobs = activeJobs
        self.pendingDeliveries = pendingDeliveries
        self.staleOutcomes = staleOutcomes
        self.unsettledSources = unsettledSources
        self.finishedCounts = finishedCounts
        self.cancelRequests = cancelRequests
    }
}

/// Inputs of an outcome file.
public struct OutcomeSnapshot: Sendable {
    public var job: Job
    public var event: WebhookEvent
    public var deliveries: [Delivery]
    /// Increases with every change that affects the file.
    public var version: Int
    /// The spool the request came from, on a shared store (`nil` with one daemon): its outcome file
    /// belongs in that spool, so only a daemon watching it writes the file.
    public var spoolID: String?

    public init(job: Job, event: WebhookEvent, deliveries: [Delivery], version: Int, spoolID: String? = nil) {
        self.job = job
        self.event = event
        self.deliveries = deliveries
        self.version = version
        self.spoolID = spoolID
    }
}

/// What a shared or local store already knows about a group of request files
/// (``JobStore/intakeFacts(identities:sha256s:jobIDs:acceptedSince:)``).
public struct IntakeFacts: Sendable {
    public struct Accepted: Sendable, Hashable {
        public var jobID: JobID
        public var at: Timestamp

        public init(jobID: JobID, at: Timestamp) {
            self.jobID = jobID
            self.at = at
        }
    }

    /// The job made of each source identity that is one already.
    public var taken: [String: JobID] = [:]
    /// For each content hash, the latest job (not a rejection) accepted from it in the window.
    public var accepted: [String: Accepted] = [:]
    /// The asked job ids that some job (in any phase) has already.
    public var existing: Set<JobID> = []

    public init() {}
}
