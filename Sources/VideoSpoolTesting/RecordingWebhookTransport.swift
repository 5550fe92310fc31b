import Synchronization
public import VideoSpoolCore

/// A `WebhookTransport` that records every attempt and answers from a closure.
public final class RecordingWebhookTransport: WebhookTransport, Sendable {
    public typealias Handler = @Sendable (WebhookRequest) async -> DeliveryStateMachine.AttemptResult

    private let handler: Mutex<Handler>
    private let recorded = Mutex<[WebhookRequest]>([])
    private let continuation: AsyncStream<WebhookRequest>.Continuation
    /// Every attempt, as it is made.
    public let attempts: AsyncStream<WebhookRequest>

    public init(handler: @escaping Handler = { _ in .response(statusCode: 204, retryAfter: nil, location: nil) }) {
        self.handler = Mutex(handler)
        (attempts, continuation) = AsyncStream.makeStream(of: WebhookRequest.self)
    }

    public var requests: [WebhookRequest] { recorded.withLock { $0 } }

    public func setHandler(_ handler: @escaping Handler) { self.handler.withLock { $0 = handler } }

    public func send(_ request: WebhookRequest) async -> DeliveryStateMachine.AttemptResult {
        recorded.withLock { $0.append(request) }
        continuation.yield(request)
        let handler = self.handler.withLock { $0 }
        return await handler(request)
    }
}

extension WebhookRequest {
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var json: JSONValue? { try? JSONParser().parse(body) }
}
