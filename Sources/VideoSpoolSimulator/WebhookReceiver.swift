import Foundation
import Synchronization
public import VideoSpoolCore
import VideoSpoolSupport

/// A webhook endpoint for tests and the demo: verifies Standard Webhooks signatures and keeps what
/// arrived. The path chooses the answer, so one receiver can play every kind of endpoint:
/// `/webhooks/status/503?retry_after=10`, `/webhooks/redirect/301`, `/webhooks/hang`, anything else → 204.
public final class WebhookReceiver: Sendable {
    public struct Received: Sendable {
        public let path: String
        public let webhookID: String?
        public let timestamp: String?
        public let signature: String?
        public let body: [UInt8]
        /// `nil` when the receiver has no secret to check with.
        public let signatureValid: Bool?
        public let answeredStatus: Int
        public let receivedAt: ContinuousClock.Instant

        /// The body as JSON (the receiver does not require it to parse).
        public var json: JSONValue? { try? JSONParser().parse(body) }
    }

    private let secret: WebhookSecret?
    private let log = ReplayingBroadcast<Received>()

    public init(secret: WebhookSecret?) {
        self.secret = secret
    }

    public var received: [Received] { log.history }

    /// Everything received so far, then everything that arrives, until the consumer stops.
    public func subscribe() -> AsyncStream<Received> {
        log.subscribe()
    }

    /// How the receiver should answer a request to `path`.
    public enum Answer: Sendable, Hashable {
        case status(Int, retryAfterSeconds: Int?, location: String?)
        case hang
    }

    public func answer(for path: String, query: [String: String]) -> Answer {
        let parts = path.split(separator: "/").map(String.init)
        if parts.count >= 3, parts[1] == "status", let code = Int(parts[2]) {
            return .status(code, retryAfterSeconds: query["retry_after"].flatMap(Int.init), location: nil)
        }
        if parts.count >= 3, parts[1] == "redirect", let code = Int(parts[2]) {
            return .status(code, retryAfterSeconds: nil, location: "https://elsewhere.invalid/webhooks")
        }
        if parts.count >= 2, parts[1] == "hang" { return .hang }
        return .status(204, retryAfterSeconds: nil, location: nil)
    }

    /// Records one request and returns the status that was (or will be) answered.
    @discardableResult
    public func record(path: String, headers: [String: String], body: [UInt8], answeredStatus: Int) -> Received {
        var valid: Bool?
        if let secret {
            valid = Self.verify(secret: secret, headers: headers, body: body)
        }
        let item = Received(
            path: path,
            webhookID: headers["webhook-id"],
            timestamp: headers["webhook-timestamp"],
            signature: headers["webhook-signature"],
            body: body,
            signatureValid: valid,
            answeredStatus: answeredStatus,
            receivedAt: .now
        )
        log.append(item)
        return item
    }

    static func verify(secret: WebhookSecret, headers: [String: String], body: [UInt8]) -> Bool {
        guard let id = headers["webhook-id"], let timestamp = headers["webhook-timestamp"].flatMap(Int64.init),
            let signature = headers["webhook-signature"]
        else { return false }
        let now = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))
        return WebhookSigner(secret: secret).verify(
            messageID: id,
            timestamp: timestamp,
            body: body,
            signatureHeader: signature,
            now: now
        )
    }
}
