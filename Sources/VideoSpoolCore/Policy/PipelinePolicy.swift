/// What to do with a POST whose outcome is unknown (timeout after the body was sent, 500, 504, a
/// crash between sending and recording the answer). The API has no idempotency key, so re-sending
/// may create, and bill, a second generation.
public enum AmbiguousSubmissionPolicy: String, Sendable, Hashable, CaseIterable {
    /// Fail the job with `submission_outcome_unknown` and tell its callbacks; never pay twice. Default.
    case fail
    /// Send the request again; a duplicate generation is possible.
    case resubmit
}

/// Every rule the job state machine follows, gathered from configuration.
public struct PipelinePolicy: Sendable, Hashable {
    /// Retries of submissions that certainly did not reach the API (connect errors, 429, 502, 503).
    public var submitBackoff: Backoff
    public var poll: PollSchedule
    public var ambiguousSubmission: AmbiguousSubmissionPolicy
    /// How long all submissions (or polls) pause after a 401, 403 or 3xx before one probe is sent;
    /// doubled each time the probe is refused (``AuthenticationPause``).
    public var authenticationPause: Backoff
    /// A job not submitted within this time after acceptance fails with `queue_expired`.
    public var queueLifetime: Duration
    /// Consecutive 404 answers to polls before the generation is declared lost.
    public var notFoundLimit: Int
    public var webhookRetries: WebhookRetrySchedule
    /// Whether an `http` video URL counts as a video (only when `api.base_url` is http itself,
    /// as in a test against a local simulator); `https` always does.
    public var acceptsHTTPVideoURLs: Bool
    /// `results.*`: whether videos are stored and the webhook waits for them. Off unless the
    /// daemon's settings turn it on (they do by default).
    public var videoStorage: VideoStoragePolicy
    /// `budget.*`: spending limits checked before each POST (none by default).
    public var budget: BudgetSettings
    /// How long a finished job's outcome file waits for its webhooks' first attempts, whose
    /// answers would rewrite it moments later (see OutcomeWriter).
    public var outcomeHold: Duration = .seconds(1)

    public init(
        submitBackoff: Backoff = Backoff(),
        poll: PollSchedule = PollSchedule(),
        ambiguousSubmission: AmbiguousSubmissionPolicy = .fail,
        authenticationPause: Backoff = Backoff(initial: .seconds(30), maximum: .seconds(600), jitter: 0.1),
        queueLifetime: Duration = .seconds(86400),
        notFoundLimit: Int = 3,
        webhookRetries: WebhookRetrySchedule = WebhookRetrySchedule(),
        acceptsHTTPVideoURLs: Bool = false,
        videoStorage: VideoStoragePolicy = VideoStoragePolicy(),
        budget: BudgetSettings = BudgetSettings()
    ) {
        self.submitBackoff = submitBackoff
        self.poll = poll
        self.ambiguousSubmission = ambiguousSubmission
        self.authenticationPause = authenticationPause
        self.queueLifetime = queueLifetime
        self.notFoundLimit = notFoundLimit
        self.webhookRetries = webhookRetries
        self.acceptsHTTPVideoURLs = acceptsHTTPVideoURLs
        self.videoStorage = videoStorage
        self.budget = budget
    }
}
