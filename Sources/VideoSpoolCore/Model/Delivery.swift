/// One webhook event on its way to one callback URL.
public struct Delivery: Sendable, Hashable {
    public struct ID: Sendable, Hashable, CustomStringConvertible {
        public let eventID: String
        public let index: Int

        public init(eventID: String, index: Int) {
            self.eventID = eventID
            self.index = index
        }

        public var description: String { "\(eventID)/\(index)" }
    }

    public enum State: String, Sendable, Hashable, CaseIterable {
        /// Not yet delivered; `nextAttemptAt` says when to try.
        case pending
        /// A 2xx was received.
        case delivered
        /// The retry schedule ran out.
        case failed
        /// The receiver answered 410 Gone: never try this URL for this event again.
        case gone
        /// The URL is not allowed (non-public address, bad URL); never attempted.
        case refused

        public var isFinal: Bool { self != .pending }
    }

    public let id: ID
    public let jobID: JobID
    public let url: String
    public var state: State = .pending
    public var attempts: Int = 0
    public var nextAttemptAt: Timestamp?
    public var lastAttemptAt: Timestamp?
    public var lastStatusCode: Int?
    public var lastError: String?
    public var deliveredAt: Timestamp?
    /// The fence of its job this daemon holds it under (see WorkOwnership.swift); 0 with one owner.
    public var fence: Int64 = 0

    public init(id: ID, jobID: JobID, url: String, nextAttemptAt: Timestamp?) {
        self.id = id
        self.jobID = jobID
        self.url = url
        self.nextAttemptAt = nextAttemptAt
    }
}
