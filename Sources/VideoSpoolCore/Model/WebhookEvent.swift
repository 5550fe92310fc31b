/// A signed-once-per-attempt webhook message: its id is the `webhook-id` header on every attempt to
/// every URL, and its body bytes never change.
public struct WebhookEvent: Sendable, Hashable {
    public struct EventType: Sendable, Hashable, CustomStringConvertible {
        public let description: String

        public static let completed = EventType(description: "video.generation.completed")
        public static let failed = EventType(description: "video.generation.failed")
        public static let rejected = EventType(description: "video.generation.rejected")
        public static let canceled = EventType(description: "video.generation.canceled")

        public init(description: String) {
            self.description = description
        }
    }

    /// `msg_` followed by a ULID: never user-controlled and never contains a `.` (Standard Webhooks).
    public let id: String
    public let jobID: JobID
    public let type: EventType
    public let createdAt: Timestamp
    public let body: [UInt8]

    public init(id: String, jobID: JobID, type: EventType, createdAt: Timestamp, body: [UInt8]) {
        self.id = id
        self.jobID = jobID
        self.type = type
        self.createdAt = createdAt
        self.body = body
    }
}
