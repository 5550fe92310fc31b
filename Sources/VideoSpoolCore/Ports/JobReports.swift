/// Read-only queries for the operator commands (`videospool list`, `show`). They are not part of
/// ``JobStore``: the pipeline never needs them, and the commands read a store without a daemon.
public protocol JobReports: Sendable {
    /// Jobs in `state` (any state when `nil`), most recently accepted first.
    func jobSummaries(in state: JobState?, limit: Int) async throws -> [JobSummary]

    /// Everything known about one job.
    func jobReport(_ id: JobID) async throws -> JobReport?

    /// Spend ledger entries reserved at or after `since`, oldest first (`videospool usage`).
    func spendEntries(since: Timestamp) async throws -> [SpendEntry]
}

/// What `videospool list` shows of a job.
public struct JobSummary: Sendable {
    public var job: Job
    public var state: JobState

    public init(job: Job, state: JobState) {
        self.job = job
        self.state = state
    }
}

/// Everything `videospool show` tells about one job.
public struct JobReport: Sendable {
    public var job: Job
    public var state: JobState
    /// The request as sent upstream (`nil` for rejections, which keep none).
    public var requestBody: [UInt8]?
    public var transitions: [JobTransition]
    /// Every event, oldest first (a retried job has one per ending).
    public var events: [WebhookEvent]
    public var deliveries: [Delivery]
    public var attempts: [DeliveryAttempt]

    public init(
        job: Job,
        state: JobState,
        requestBody: [UInt8]?,
        transitions: [JobTransition],
        events: [WebhookEvent],
        deliveries: [Delivery],
        attempts: [DeliveryAttempt]
    ) {
        self.job = job
        self.state = state
        self.requestBody = requestBody
        self.transitions = transitions
        self.events = events
        self.deliveries = deliveries
        self.attempts = attempts
    }
}
