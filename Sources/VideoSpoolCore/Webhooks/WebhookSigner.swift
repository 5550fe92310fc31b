import Crypto
import Foundation

/// Signs webhook bodies as Standard Webhooks `v1`: base64 HMAC-SHA256 over `id.timestamp.body`.
public struct WebhookSigner: Sendable {
    private let key: SymmetricKey

    public init(secret: WebhookSecret) {
        self.key = SymmetricKey(data: secret.key)
    }

    /// The `webhook-signature` header value for one attempt.
    public func signature(messageID: String, timestamp: Int64, body: [UInt8]) -> String {
        var content = Array(messageID.utf8)
        content.append(UInt8(ascii: "."))
        content.append(contentsOf: String(timestamp).utf8)
        content.append(UInt8(ascii: "."))
        content.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }

    /// Checks a `webhook-signature` header (any of its space-separated `v1,` entries) in constant
    /// time, and the timestamp against `tolerance` (the reference libraries use 5 minutes).
    public func verify(
        messageID: String,
        timestamp: Int64,
        body: [UInt8],
        signatureHeader: String,
        now: Timestamp,
        tolerance: Duration = .seconds(300)
    ) -> Bool {
        let age = abs(now.secondsSinceEpoch - timestamp)
        guard age <= tolerance.components.seconds else { return false }
        let expected = Array(signature(messageID: messageID, timestamp: timestamp, body: body).utf8)
        var matched = false
        for entry in signatureHeader.split(separator: " ") {
            let candidate = Array(entry.utf8)
            guard candidate.count == expected.count else { continue }
            var difference: UInt8 = 0
            for index in candidate.indices { difference |= candidate[index] ^ expected[index] }
            if difference == 0 { matched = true }
        }
        return matched
    }
}
