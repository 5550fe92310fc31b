import Testing
import VideoSpoolCore

struct ContentDigestTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (#"{"model":"x"}"#, "78b0e11c6754fc9671c2034f4a068d3a0e53c1c22a5a33900dd46bc8cd9136f3"),
    ])
    func sha256IsLowercaseHex(text: String, hex: String) {
        let digest = ContentDigest.sha256Hex(Array(text.utf8))
        #expect(digest.count == 64)
        #expect(digest.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(digest == hex)
    }
}

struct SecretScrubberTests {
    private let scrubber = SecretScrubber(secrets: ["sk-live-abcdef123456", "short"])

    @Test func knownSecretsAreReplacedEverywhere() {
        let text = #"{"message":"invalid key sk-live-abcdef123456","echo":"sk-live-abcdef123456sk-live-abcdef123456"}"#
        let scrubbed = scrubber.scrub(text)
        #expect(!scrubbed.contains("sk-live-abcdef123456"))
        #expect(scrubbed == #"{"message":"invalid key [redacted]","echo":"[redacted][redacted]"}"#)
    }

    @Test func secretsShorterThanEightBytesAreIgnored() {
        #expect(scrubber.scrub("a short text") == "a short text")
    }

    @Test func textWithoutSecretsIsUnchanged() {
        let bytes = Array("sk-live-abcdef12345 is not the key".utf8)
        #expect(scrubber.scrub(bytes) == bytes)
        #expect(scrubber.scrub([UInt8]()) == [])
    }
}

struct RunningDigestTests {
    @Test func aDigestOverChunksIsTheDigestOfTheWhole() {
        let whole = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var running = ContentDigest.Running()
        for start in stride(from: 0, to: whole.count, by: 4096) {
            running.update(Array(whole[start..<min(start + 4096, whole.count)]))
        }
        #expect(running.finish() == ContentDigest.sha256Hex(whole))
        // The known digest of nothing.
        #expect(ContentDigest.Running().finish() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
