import Foundation
import Testing
import VideoSpoolCore

/// The Standard Webhooks reference test vector (used by every official library's tests).
private enum Vector {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let messageID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let timestamp: Int64 = 1_614_265_330
    static let body = Array(#"{"test": 2432232314}"#.utf8)
    static let signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    static let now = Timestamp(secondsSinceEpoch: timestamp)
}

struct WebhookSignerTests {
    private func signer(_ secret: String = Vector.secret) throws -> WebhookSigner {
        WebhookSigner(secret: try WebhookSecret(parsing: secret))
    }

    @Test func theReferenceVectorIsReproduced() throws {
        let signature = try signer().signature(messageID: Vector.messageID, timestamp: Vector.timestamp, body: Vector.body)
        #expect(signature == Vector.signature)
    }

    @Test(arguments: [-300, -120, 0, 1, 299, 300] as [Int64])
    func theReferenceSignatureVerifiesNearItsTimestamp(offset: Int64) throws {
        let valid = try signer().verify(
            messageID: Vector.messageID,
            timestamp: Vector.timestamp,
            body: Vector.body,
            signatureHeader: Vector.signature,
            now: Timestamp(secondsSinceEpoch: Vector.timestamp + offset)
        )
        #expect(valid)
    }

    @Test(arguments: [-100_000, -302, -301, 301, 302, 86_400] as [Int64])
    func aTimestampOutsideTheToleranceIsRejected(offset: Int64) throws {
        let valid = try signer().verify(
            messageID: Vector.messageID,
            timestamp: Vector.timestamp,
            body: Vector.body,
            signatureHeader: Vector.signature,
            now: Timestamp(secondsSinceEpoch: Vector.timestamp + offset)
        )
        #expect(!valid)
    }

    @Test func theToleranceIsConfigurable() throws {
        let valid = try signer().verify(
            messageID: Vector.messageID,
            timestamp: Vector.timestamp,
            body: Vector.body,
            signatureHeader: Vector.signature,
            now: Timestamp(secondsSinceEpoch: Vector.timestamp + 3000),
            tolerance: .seconds(3600)
        )
        #expect(valid)
    }

    @Test(arguments: [
        #"{"test": 2432232315}"#,
        #"{"test":2432232314}"#,
        #"{"test": 2432232314} "#,
        "",
    ])
    func aTamperedBodyIsRejected(body: String) throws {
        let valid = try signer().verify(
            messageID: Vector.messageID,
            timestamp: Vector.timestamp,
            body: Array(body.utf8),
            signatureHeader: Vector.signature,
            now: Vector.now
        )
        #expect(!valid)
    }

    @Test func anotherMessageIDIsRejected() throws {
        let valid = try signer().verify(
            messageID: "msg_p5jXN8AQM9LWM0D4loKWxJel",
            timestamp: Vector.timestamp,
            body: Vector.body,
            signatureHeader: Vector.signature,
            now: Vector.now
        )
        #expect(!valid)
    }

    @Test func anotherTimestampIsRejected() throws {
        let valid = try signer().verify(
            messageID: Vector.messageID,
            timestamp: Vector.timestamp + 1,
            body: Vector.body,
            signatureHeader: Vector.signature,
            now: Vector.now
        )
        #expect(!valid)
    }

    @Test func anotherSecretIsRejected() throws {
        let other = try signer("whsec_" + Data(repeating: 7, count: 32).base64EncodedString())
        let valid = other.verify(
            messageID: Vector.messageID,
            timestamp: Vector.timestamp,
            body: Vector.body,
            signatureHeader: Vector.signature,
            now: Vector.now
        )
        #expect(!valid)
    }

    @Test(arguments: [
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= \(Vector.signature)",
        "\(Vector.signature) v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        "v1a,abc \(Vector.signature) v2,xyz",
        "  \(Vector.signature)  ",
    ])
    func aHeaderWithSeveralSignaturesPassesWhenOneMatches(header: String) throws {
        let valid = try signer().verify(
            messageID: Vector.messageID,
            timestamp: Vector.timestamp,
            body: Vector.body,
            signatureHeader: header,
            now: Vector.now
        )
        #expect(valid)
    }

    @Test(arguments: [
        "",
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
        "v1,G0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=,",
    ])
    func aHeaderWithoutAMatchingSignatureFails(header: String) throws {
        let valid = try signer().verify(
            messageID: Vector.messageID,
            timestamp: Vector.timestamp,
            body: Vector.body,
            signatureHeader: header,
            now: Vector.now
        )
        #expect(!valid)
    }

    @Test func aSignatureVerifiesWithTheSameSigner() throws {
        let signer = try signer()
        let body = Array(#"{"type":"video.generation.completed","data":{"job_id":"j"}}"#.utf8)
        let header = signer.signature(messageID: "msg_01JDX", timestamp: 1_800_000_000, body: body)
        #expect(header.hasPrefix("v1,"))
        #expect(
            signer.verify(
                messageID: "msg_01JDX",
                timestamp: 1_800_000_000,
                body: body,
                signatureHeader: header,
                now: Timestamp(secondsSinceEpoch: 1_800_000_010)
            )
        )
    }
}

struct WebhookSecretTests {
    @Test func theReferenceSecretDecodesToItsKeyBytes() throws {
        let secret = try WebhookSecret(parsing: Vector.secret)
        #expect(secret.key == Array(Data(base64Encoded: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!))
        #expect(secret.key.count == 24)
    }

    @Test func surroundingWhitespaceIsIgnored() throws {
        let secret = try WebhookSecret(parsing: "  \(Vector.secret)\n")
        #expect(secret == (try WebhookSecret(parsing: Vector.secret)))
    }

    @Test(arguments: [24, 32, 64])
    func keysOf24To64BytesAreAccepted(length: Int) throws {
        let text = "whsec_" + Data((0..<length).map { UInt8($0) }).base64EncodedString()
        #expect(try WebhookSecret(parsing: text).key.count == length)
    }

    @Test(arguments: [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"),
        ("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"),
        ("", "whsec_"),
        ("whsec_", "bytes"),
        ("whsec_not base64!", "base64"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "base64"),
        ("whsec_" + Data(repeating: 1, count: 16).base64EncodedString(), "bytes"),
        ("whsec_" + Data(repeating: 1, count: 23).base64EncodedString(), "bytes"),
        ("whsec_" + Data(repeating: 1, count: 65).base64EncodedString(), "bytes"),
    ])
    func malformedSecretsAreRejected(text: String, complaint: String) {
        do {
            _ = try WebhookSecret(parsing: text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains(complaint), "\(error.description)")
        }
    }

    @Test func aSecretNeverPrintsItsKey() throws {
        let secret = try WebhookSecret(parsing: Vector.secret)
        let encoded = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        #expect(secret.description == "whsec_<redacted>")
        #expect(!"\(secret)".contains(encoded))
        #expect(!String(describing: secret).contains(encoded))
        #expect(!String(describing: [secret]).contains(encoded))
    }

    @Test func errorMessagesDoNotEchoTheSecret() {
        let candidate = "whsec_" + Data(repeating: 0xAB, count: 16).base64EncodedString()
        do {
            _ = try WebhookSecret(parsing: candidate)
        } catch {
            #expect(!error.description.contains(String(candidate.dropFirst(6))))
        }
    }
}
