import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolSimulator

/// The receiver's path rules and its record, called directly (no HTTP).
struct WebhookReceiverTests {
    private static let elsewhere = "https://elsewhere.invalid/webhooks"

    @Test(
        arguments: [
            ("/webhooks/ok", [:], WebhookReceiver.Answer.status(204, retryAfterSeconds: nil, location: nil)),
            ("/webhooks", [:], .status(204, retryAfterSeconds: nil, location: nil)),
            ("/webhooks/status/500", [:], .status(500, retryAfterSeconds: nil, location: nil)),
            ("/webhooks/status/503", ["retry_after": "10"], .status(503, retryAfterSeconds: 10, location: nil)),
            ("/webhooks/status/429", ["retry_after": "soon"], .status(429, retryAfterSeconds: nil, location: nil)),
            ("/webhooks/status/410/extra", [:], .status(410, retryAfterSeconds: nil, location: nil)),
            ("/webhooks/status/teapot", [:], .status(204, retryAfterSeconds: nil, location: nil)),
            ("/webhooks/status", [:], .status(204, retryAfterSeconds: nil, location: nil)),
            ("/webhooks/redirect/301", [:], .status(301, retryAfterSeconds: nil, location: elsewhere)),
            ("/webhooks/redirect/307", ["retry_after": "5"], .status(307, retryAfterSeconds: nil, location: elsewhere)),
            ("/webhooks/hang", [:], .hang),
            ("/webhooks/hang/forever", [:], .hang),
        ] as [(String, [String: String], WebhookReceiver.Answer)]
    )
    func thePathChoosesTheAnswer(path: String, query: [String: String], expected: WebhookReceiver.Answer) {
        #expect(WebhookReceiver(secret: nil).answer(for: path, query: query) == expected)
    }

    private func signedHeaders(
        _ secret: WebhookSecret,
        body: [UInt8],
        id: String = "msg_1",
        timestamp: Int64 = Int64(Date().timeIntervalSince1970)
    ) -> [String: String] {
        [
            "webhook-id": id,
            "webhook-timestamp": String(timestamp),
            "webhook-signature": WebhookSigner(secret: secret).signature(
                messageID: id,
                timestamp: timestamp,
                body: body
            ),
        ]
    }

    @Test func aCorrectlySignedRequestIsRecordedAsValid() throws {
        let secret = try makeWebhookSecret()
        let receiver = WebhookReceiver(secret: secret)
        let body = Array(#"{"a":1}"#.utf8)
        let fresh = signedHeaders(secret, body: body, id: "msg_abc")
        let item = receiver.record(path: "/webhooks/x", headers: fresh, body: body, answeredStatus: 204)
        #expect(item.signatureValid == true)
        #expect(item.webhookID == "msg_abc")
        #expect(item.timestamp == fresh["webhook-timestamp"])
        #expect(item.signature == fresh["webhook-signature"])
        #expect(item.json?["a"]?.numberValue?.int64Value == 1)
        #expect(receiver.received.count == 1)
    }

    @Test func aTamperedBodyOldTimestampOrMissingHeaderIsRecordedAsInvalid() throws {
        let secret = try makeWebhookSecret()
        let receiver = WebhookReceiver(secret: secret)
        let body = Array(#"{"a":1}"#.utf8)
        let tampered = receiver.record(
            path: "/webhooks/x",
            headers: signedHeaders(secret, body: body),
            body: Array(#"{"a":2}"#.utf8),
            answeredStatus: 204
        )
        let stale = receiver.record(
            path: "/webhooks/x",
            headers: signedHeaders(secret, body: body, timestamp: Int64(Date().timeIntervalSince1970) - 3600),
            body: body,
            answeredStatus: 204
        )
        var unsigned = signedHeaders(secret, body: body)
        unsigned["webhook-signature"] = nil
        let missing = receiver.record(path: "/webhooks/x", headers: unsigned, body: body, answeredStatus: 204)
        let otherSecret = receiver.record(
            path: "/webhooks/x",
            headers: signedHeaders(try makeWebhookSecret(), body: body),
            body: body,
            answeredStatus: 204
        )
        #expect(tampered.signatureValid == false)
        #expect(stale.signatureValid == false)
        #expect(missing.signatureValid == false)
        #expect(missing.signature == nil)
        #expect(otherSecret.signatureValid == false)
    }

    @Test func withoutASecretSignaturesAreNotJudged() {
        let item = WebhookReceiver(secret: nil).record(path: "/webhooks/x", headers: [:], body: [], answeredStatus: 204)
        #expect(item.signatureValid == nil)
        #expect(item.webhookID == nil)
        #expect(item.json == nil)
    }

    @Test(.timeLimit(.minutes(1)))
    func subscribersGetEarlierItemsThenNewOnes() async throws {
        let receiver = WebhookReceiver(secret: nil)
        receiver.record(path: "/webhooks/1", headers: [:], body: [], answeredStatus: 204)
        receiver.record(path: "/webhooks/2", headers: [:], body: [], answeredStatus: 500)
        let items = receiver.subscribe()
        let late = receiver.subscribe()
        receiver.record(path: "/webhooks/3", headers: [:], body: [], answeredStatus: 204)
        for stream in [items, late] {
            var iterator = stream.makeAsyncIterator()
            var paths: [String] = []
            for _ in 0..<3 { paths.append(try #require(await iterator.next()).path) }
            #expect(paths == ["/webhooks/1", "/webhooks/2", "/webhooks/3"])
        }
        #expect(receiver.received.map(\.answeredStatus) == [204, 500, 204])
    }
}
