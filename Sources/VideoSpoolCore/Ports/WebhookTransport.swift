/// Sends one webhook attempt. Implementations enforce the address policy on the address actually
/// connected to, never follow redirects, and bound time and response size.
public protocol WebhookTransport: Sendable {
    func send(_ request: WebhookRequest) async -> DeliveryStateMachine.AttemptResult
}

public struct WebhookRequest: Sendable {
    public let url: String
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]
    /// For logs.
    public let jobID: JobID
    public let attempt: Int

    public init(url: String, headers: [(name: String, value: String)], body: [UInt8], jobID: JobID, attempt: Int) {
        self.url = url
        self.headers = headers
        self.body = body
        self.jobID = jobID
        self.attempt = attempt
    }
}
