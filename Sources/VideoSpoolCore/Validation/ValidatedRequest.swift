/// A request file that passed validation, split into what goes upstream and what the daemon keeps.
public struct ValidatedRequest: Sendable, Hashable {
    public let model: String
    /// The exact body to POST: the model's fields only, normalized as its definition says
    /// (`duration` as an integer, `provider` lowercased), `null` members dropped, in the order the
    /// file had them.
    public let upstreamBody: JSONObject
    /// The request's own callback URLs (empty when it named none).
    public let callbackURLs: [String]
    public let metadata: JSONObject?
    public let requestedJobID: JobID?
    public let parameters: GenerationParameters
    /// False for a model without a definition, let through by `models.allow_unlisted` with only the
    /// generic checks.
    public var isListed: Bool = true
}

/// A request file that failed validation, with whatever could still be used to tell its owner.
public struct RejectedRequest: Sendable, Hashable {
    public let issues: [ValidationIssue]
    /// Callback URLs that are themselves valid and allowed, so the rejection can be reported.
    public let callbackURLs: [String]
    public let metadata: JSONObject?
    public let requestedJobID: JobID?
    public let model: String?

    public init(
        issues: [ValidationIssue],
        callbackURLs: [String] = [],
        metadata: JSONObject? = nil,
        requestedJobID: JobID? = nil,
        model: String? = nil
    ) {
        self.issues = issues
        self.callbackURLs = callbackURLs
        self.metadata = metadata
        self.requestedJobID = requestedJobID
        self.model = model
    }

    /// A short summary for a webhook's `error.message`: the first issue, and how many more.
    public var summary: String {
        guard let first = issues.first else { return "the request was rejected" }
        return issues.count == 1 ? first.description : "\(first.description) (and \(issues.count - 1) more)"
    }
}

public enum ValidationOutcome: Sendable, Hashable {
    case valid(ValidatedRequest)
    case invalid(RejectedRequest)
}
