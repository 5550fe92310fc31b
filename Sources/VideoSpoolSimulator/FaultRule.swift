import VideoSpoolCore

/// A fault the simulator injects into matching API requests.
public struct FaultRule: Sendable, Hashable {
    public enum Endpoint: String, Sendable, Hashable {
        case submit
        case poll
        case any
    }

    public enum Fault: Sendable, Hashable {
        /// Answer with this status (and `Retry-After` seconds when given) and an error envelope.
        case status(Int, retryAfterSeconds: Int? = nil)
        /// Wait this long before answering normally.
        case delay(Duration)
        /// Send part of a response, then close the connection.
        case dropConnection
        /// Answer 200 with a body that is not JSON.
        case malformedJSON
        /// Answer a poll with this status value (e.g. `processing`, `error`).
        case reportStatus(String)
        /// Accept the request, then answer 500 anyway (a POST whose outcome is unknown).
        case acceptThenFail(Int)
    }

    public var endpoint: Endpoint
    public var fault: Fault
    /// How many matching requests it applies to; `nil` for all.
    public var remaining: Int?

    public init(endpoint: Endpoint, fault: Fault, remaining: Int? = nil) {
        self.endpoint = endpoint
        self.fault = fault
        self.remaining = remaining
    }
}
