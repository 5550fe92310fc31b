/// The API's view of one generation (`POST` and `GET /v2/video/generations` share this shape).
public struct GenerationStatusResponse: Sendable, Hashable {
    public var id: String
    /// `queued`, `generating`, `completed`, `error`, or something the docs do not list.
    public var status: String
    public var videoURL: String?
    public var errorName: String?
    public var errorMessage: String?
    public var usage: Usage?

    /// Statuses other APIs use for a failed generation; treated like `error` if they ever appear.
    static let failureSynonyms: Set<String> = ["failed", "failure", "cancelled", "canceled", "expired", "timeout",
        "timed_out", "rejected"]

    /// Parses a response body; `nil` when it is not the documented shape (no `id` or `status`).
    public init?(body: [UInt8]) {
        guard let document = try? JSONParser().parse(body), case .object(let object) = document,
            let id = object["id"]?.stringValue ?? object["generation_id"]?.stringValue, !id.isEmpty,
            let status = object["status"]?.stringValue
        else { return nil }
        self.id = id
        self.status = status.lowercased()
        self.videoURL = object["video"]?["url"]?.stringValue
        self.errorName = object["error"]?["name"]?.stringValue
        self.errorMessage = object["error"]?["message"]?.stringValue
        if case .object(let usage)? = object["meta"]?["usage"] {
            self.usage = Usage(creditsUsed: usage["credits_used"]?.numberValue, usdSpent: usage["usd_spent"]?.numberValue)
        }
    }

    public init(id: String, status: String, videoURL: String? = nil, errorName: String? = nil,
        errorMessage: String? = nil, usage: Usage? = nil)
    {
        self.id = id
        self.status = status
        self.videoURL = videoURL
        self.errorName = errorName
        self.errorMessage = errorMessage
        self.usage = usage
    }

    public enum Progress: Sendable, Hashable {
        case running
        case completed
        case failed
        /// A status the docs do not list; polling continues until the deadline.
        case unknown
    }

    public var progress: Progress {
        switch status {
        case "queued", "generating", "processing", "in_progress", "pending", "running", "starting": .running
        case "completed", "succeeded", "success": .completed
        case "error": .failed
        case _ where Self.failureSynonyms.contains(status): .failed
        default: .unknown
        }
    }

    /// "name: message" for a failed generation, without assuming either is present.
    public var failureDescription: String {
        let parts = [errorName, errorMessage].compactMap { $0?.isEmpty == false ? $0 : nil }
        return parts.isEmpty ? "the generation ended with status '\(status)'" : clip(parts.joined(separator: ": "), limit: 500)
    }
}
