/// The ledger entry a submission's intent records, and the budget it must fit in. The store
/// checks the budget and records the entry in the intent's own transaction, so that concurrent
/// submissions (from this daemon or others sharing the store) are counted one after another and
/// cannot all slip under a limit together.
public struct SpendReservation: Sendable, Hashable {
    public var jobID: JobID
    public var model: String
    public var resolution: String?
    public var durationSeconds: Int?
    /// The app's clock at the intent: the entry's time in every window.
    public var at: Timestamp
    public var budget: BudgetSettings

    public init(job: Job, at: Timestamp, budget: BudgetSettings) {
        self.jobID = job.id
        self.model = job.model
        self.resolution = job.parameters.resolution
        self.durationSeconds = job.parameters.durationSeconds
        self.at = at
        self.budget = budget
    }
}
