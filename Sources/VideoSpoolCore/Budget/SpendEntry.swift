/// One submission in the spend ledger: what it was expected to cost when its intent was recorded,
/// and what the API said it cost when it ended. The ledger is never pruned with its job, so that
/// retention cannot reset a budget.
public struct SpendEntry: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, CaseIterable {
        /// The intent is recorded; the POST is on its way or the generation is running. Counts at
        /// its estimate.
        case reserved
        /// The generation completed upstream (its video may still fail to be stored).
        case completed
        /// The generation failed or was canceled after it reached the API.
        case failed
        /// The POST never created a generation (refused, not sent): the job went back to the
        /// queue. Counts for nothing.
        case void
    }

    public var jobID: JobID
    public var model: String
    public var resolution: String?
    public var durationSeconds: Int?
    /// When the intent was recorded: the time a generation counts at in every window.
    public var reservedAt: Timestamp
    public var estimateUSD: Double
    public var state: State
    public var settledAt: Timestamp?
    public var usdSpent: Double?
    public var creditsUsed: Double?

    public init(
        jobID: JobID,
        model: String,
        resolution: String?,
        durationSeconds: Int?,
        reservedAt: Timestamp,
        estimateUSD: Double,
        state: State,
        settledAt: Timestamp? = nil,
        usdSpent: Double? = nil,
        creditsUsed: Double? = nil
    ) {
        self.jobID = jobID
        self.model = model
        self.resolution = resolution
        self.durationSeconds = durationSeconds
        self.reservedAt = reservedAt
        self.estimateUSD = estimateUSD
        self.state = state
        self.settledAt = settledAt
        self.usdSpent = usdSpent
        self.creditsUsed = creditsUsed
    }

    /// What the entry counts as in a budget window: the estimate while in flight, then what the
    /// API reported (``SpendEntry/reportedUSD(usdSpent:creditsUsed:creditsPerUSD:)``).
    public func effectiveUSD(creditsPerUSD: Double) -> Double {
        switch state {
        case .reserved: estimateUSD
        case .void: 0
        case .completed, .failed:
            Self.reportedUSD(usdSpent: usdSpent, creditsUsed: creditsUsed, creditsPerUSD: creditsPerUSD) ?? 0
        }
    }

    /// `usd_spent` when the API reported it; otherwise `credits_used` converted (the poll response
    /// documents only credits); `nil` when neither was reported.
    public static func reportedUSD(usdSpent: Double?, creditsUsed: Double?, creditsPerUSD: Double) -> Double? {
        if let usdSpent { return usdSpent }
        if let creditsUsed, creditsPerUSD > 0 { return creditsUsed / creditsPerUSD }
        return nil
    }
}

/// What a job's new state means for its open ledger entry (the store applies it with the job's
/// update, in the same transaction).
public enum SpendSettlement: Sendable, Hashable {
    /// The generation ended: record what it cost.
    case settle(SpendEntry.State, usdSpent: Double?, creditsUsed: Double?)
    /// The job is back in the queue: a reservation that never got a generation counts for
    /// nothing (`void`); one that did (the job's `submittedAt`, set when the API accepted a POST,
    /// is not older than the reservation) is a failed generation.
    case requeued(submittedAt: Timestamp?)

    /// The settlement a job's update implies, if any. Only the open (`reserved`) entry of the job
    /// is touched, so a second ending (a stored video that then fails) changes nothing.
    public static func implied(by job: Job) -> SpendSettlement? {
        let usd = job.usage?.usdSpent?.doubleValue
        let credits = job.usage?.creditsUsed?.doubleValue
        switch job.phase {
        case .storing, .completed: return .settle(.completed, usdSpent: usd, creditsUsed: credits)
        case .failed, .canceled: return .settle(.failed, usdSpent: usd, creditsUsed: credits)
        case .queued: return .requeued(submittedAt: job.submittedAt)
        case .submitting, .generating, .rejected: return nil
        }
    }
}
