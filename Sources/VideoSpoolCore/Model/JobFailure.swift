/// Why a job ended without a video: a stable code for programs and a message for people.
public struct JobFailure: Sendable, Hashable {
    /// Stable, snake_case failure codes; they appear in webhooks and outcome files.
    public struct Code: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
        public let description: String

        public init(_ description: String) {
            self.description = description
        }

        public init(stringLiteral value: String) {
            self.description = value
        }

        /// The API refused the request (400, 404, 422 and other non-retryable 4xx).
        public static let apiRejected: Code = "api_rejected"
        /// The generation ended upstream with `status: error`.
        public static let generationFailed: Code = "generation_failed"
        /// The generation did not finish before `api.poll.deadline_seconds`.
        public static let timeout: Code = "timeout"
        /// A POST may or may not have created a generation; it was not re-sent (see the policy).
        public static let submissionOutcomeUnknown: Code = "submission_outcome_unknown"
        /// The API reported `completed` without a video URL.
        public static let missingVideoURL: Code = "missing_video_url"
        /// The API reported `completed` with a video URL that is not an absolute `https` URL (or
        /// `http` when `api.base_url` is http): `file:`, `javascript:`, relative, no host, user info.
        public static let invalidVideoURL: Code = "invalid_video_url"
        /// The API kept answering 404 for the generation id.
        public static let generationNotFound: Code = "generation_not_found"
        /// The job waited longer than `api.queue_lifetime_seconds` without being submitted.
        public static let queueExpired: Code = "queue_expired"
        /// The request file was invalid.
        public static let rejected: Code = "invalid_request"
        /// An operator canceled the job (`videospool cancel`).
        public static let canceled: Code = "canceled"
    }

    public var code: Code
    public var message: String
    /// For the log only, never stored, sent or written: a value too untrusted for a webhook or
    /// an outcome file (the rejected video URL). Not part of equality.
    public var logDetail: String?

    public init(code: Code, message: String, logDetail: String? = nil) {
        self.code = code
        self.message = message
        self.logDetail = logDetail
    }

    public static func == (lhs: JobFailure, rhs: JobFailure) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}
