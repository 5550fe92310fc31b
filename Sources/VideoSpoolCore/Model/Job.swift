/// Everything the daemon remembers about one job, except the (possibly large) request body.
public struct Job: Sendable, Hashable {
    public let id: JobID
    public var phase: JobPhase
    public let model: String
    /// Where the terminal webhook goes (request's own URLs, else `webhooks.default_urls`).
    public let callbackURLs: [String]
    /// The caller's `metadata` object, echoed in every webhook.
    public let metadata: JSONObject?
    public let acceptedAt: Timestamp
    /// The spool file the request came from (name within `incoming/`).
    public let sourceName: String
    /// Parameters that shape generation time, kept for scheduling and logs.
    public let parameters: GenerationParameters

    /// Submission attempts started so far.
    public var submitAttempts: Int = 0
    /// Submission attempts allowed so far: 1, raised by one each time a rule decides that the job
    /// may be sent again (its POST provably never arrived or was refused, the `resubmit` policy, an
    /// operator's retry), in the same transaction that puts it back in the queue. The store refuses
    /// `submitAttempts > submitAllowance`, so a second POST needs a committed decision.
    public var submitAllowance: Int = 1
    /// The fence this daemon holds the job under (see WorkOwnership.swift); 0 with one owner.
    public var fence: Int64 = 0
    /// Earliest time of the next action: a submission retry while queued, a poll while generating.
    public var nextActionAt: Timestamp?
    public var submittedAt: Timestamp?
    public var generationID: String?
    /// The last non-terminal status the API reported (`queued`, `generating`).
    public var upstreamStatus: String?
    public var polls: Int = 0
    /// When a status report last said the generation was still running (the submission's answer
    /// counts): the lower bound of its completion time, which the learned poll schedule needs.
    /// `nil` when unknown, e.g. after a restart (running polls are not written to the store).
    public var lastRunningAt: Timestamp?
    /// Poll failures in a row (transport errors, 5xx, 404); reset by a good poll.
    public var consecutivePollFailures: Int = 0
    /// 404 answers to polls in a row; the generation is declared lost at `PipelinePolicy.notFoundLimit`.
    public var consecutiveNotFound: Int = 0
    public var finishedAt: Timestamp?
    /// The finished video's URL (completed jobs).
    public var videoURL: String?
    /// Cost as the API reported it, when it did.
    public var usage: Usage?
    public var failure: JobFailure?
    /// When an operator sent a failed job round again (`videospool retry`): the queue lifetime
    /// counts from here, not from acceptance.
    public var requeuedAt: Timestamp?

    public init(
        id: JobID,
        phase: JobPhase,
        model: String,
        callbackURLs: [String],
        metadata: JSONObject?,
        acceptedAt: Timestamp,
        sourceName: String,
        parameters: GenerationParameters
    ) {
        self.id = id
        self.phase = phase
        self.model = model
        self.callbackURLs = callbackURLs
        self.metadata = metadata
        self.acceptedAt = acceptedAt
        self.sourceName = sourceName
        self.parameters = parameters
    }
}

/// The request parameters that matter for scheduling: generation time depends on them.
public struct GenerationParameters: Sendable, Hashable {
    public var resolution: String?
    public var durationSeconds: Int?

    public init(resolution: String? = nil, durationSeconds: Int? = nil) {
        self.resolution = resolution
        self.durationSeconds = durationSeconds
    }
}
