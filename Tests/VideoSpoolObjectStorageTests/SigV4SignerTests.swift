import Testing
import VideoSpoolCore
import VideoSpoolObjectStorage

/// The signer's rules one by one. Its agreement with independent signers is in
/// ``SigV4BotocoreTests`` (botocore) and ``SigV4TestSuiteTests`` (AWS's test vectors).
struct SigV4SignerTests {
    // MARK: - URI encoding

    @Test(arguments: [
        ("abcXYZ019-._~", "abcXYZ019-._~"),
        ("a b", "a%20b"),
        ("a+b", "a%2Bb"),
        ("a/b", "a%2Fb"),
        ("100%", "100%25"),
        ("ü", "%C3%BC"),
        ("ሴ", "%E1%88%B4"),
        ("🎬", "%F0%9F%8E%AC"),
        ("*'()!$&,;=:@?#[]", "%2A%27%28%29%21%24%26%2C%3B%3D%3A%40%3F%23%5B%5D"),
        ("\u{7F}\n", "%7F%0A"),
    ])
    func encodeKeepsOnlyUnreservedCharacters(text: String, encoded: String) {
        #expect(SigV4Signer.encode(text) == encoded)
    }

    @Test func aPathKeepsItsSlashesAndIsEncodedOnce() {
        #expect(SigV4Signer.encodePath("videos/a b/ü+~.mp4") == "videos/a%20b/%C3%BC%2B~.mp4")
        #expect(SigV4Signer.encodePath("a%20b") == "a%2520b", "a literal % in a key is data, not an escape")
        #expect(SigV4Signer.encodePath("//x//") == "//x//")
    }

    @Test func anS3PathIsSignedAsSentAndAGenericOneIsNormalizedAndEncodedAgain() {
        let request = SigV4Signer.Request(
            method: "GET",
            encodedPath: "/a/./b/../c%20d",
            headers: [("host", "example.amazonaws.com")]
        )
        let s3 = SigV4Signer(credentials: testCredentials, region: "us-east-1")
        let generic = SigV4Signer(credentials: testCredentials, region: "us-east-1", service: "service", flavor: .generic)
        #expect(s3.canonicalRequest(request, payloadHash: "x").text.split(separator: "\n")[1] == "/a/./b/../c%20d")
        #expect(generic.canonicalRequest(request, payloadHash: "x").text.split(separator: "\n")[1] == "/a/c%2520d")
    }

    @Test func theQueryIsSortedByEncodedNameThenValue() {
        let request = SigV4Signer.Request(
            method: "GET",
            encodedPath: "/",
            query: [("b", "2"), ("a b", "x"), ("a", "z"), ("a", "y"), ("A", ""), ("~", "+")],
            headers: [("host", "h")]
        )
        let signer = SigV4Signer(credentials: testCredentials, region: "us-east-1")
        let query = signer.canonicalRequest(request, payloadHash: "x").text.split(separator: "\n", omittingEmptySubsequences: false)[2]
        #expect(query == "A=&a=y&a=z&a%20b=x&b=2&~=%2B")
    }

    @Test func headerValuesAreTrimmedAndRepeatedNamesJoined() {
        let request = SigV4Signer.Request(
            method: "PUT",
            encodedPath: "/k",
            headers: [("Host", "h"), ("X-Amz-Meta-A", "  one   two\t three  "), ("x-amz-meta-a", "four"), ("Content-Type", "video/mp4")]
        )
        let canonical = SigV4Signer(credentials: testCredentials, region: "us-east-1").canonicalRequest(request, payloadHash: "p")
        #expect(
            canonical.text
                == "PUT\n/k\n\ncontent-type:video/mp4\nhost:h\nx-amz-meta-a:one two three,four\n\ncontent-type;host;x-amz-meta-a\np"
        )
        #expect(canonical.signedHeaders == "content-type;host;x-amz-meta-a")
    }

    // MARK: - AWS's published S3 examples

    /// "GET Object" from the S3 API reference (Signature Calculations for the Authorization Header:
    /// Transferring Payload in a Single Chunk), whose signature AWS publishes.
    @Test func theS3DocumentationsGetObjectExample() {
        let signer = SigV4Signer(credentials: awsExampleCredentials, region: "us-east-1")
        let headers = signer.signedHeaders(
            for: SigV4Signer.Request(
                method: "GET",
                encodedPath: "/test.txt",
                headers: [("host", "examplebucket.s3.amazonaws.com"), ("range", "bytes=0-9")]
            ),
            payloadHash: SigV4Signer.emptyPayloadHash,
            at: Timestamp(secondsSinceEpoch: 1_369_353_600)
        )
        let authorization = headers.first { $0.name == "Authorization" }?.value
        #expect(
            authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
        #expect(headers.first { $0.name == "x-amz-date" }?.value == "20130524T000000Z")
        #expect(headers.first { $0.name == "x-amz-content-sha256" }?.value == SigV4Signer.emptyPayloadHash)
    }

    /// The presigned URL example from the S3 API reference (Authenticating Requests: Using Query Parameters).
    @Test func theS3DocumentationsPresignedURLExample() throws {
        let signer = SigV4Signer(credentials: awsExampleCredentials, region: "us-east-1")
        let query = try signer.presignedQuery(
            for: SigV4Signer.Request(method: "GET", encodedPath: "/test.txt", headers: [("host", "examplebucket.s3.amazonaws.com")]),
            expiresSeconds: 86400,
            at: Timestamp(secondsSinceEpoch: 1_369_353_600)
        )
        #expect(
            query
                == "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        )
    }

    // MARK: - Limits and secrets

    @Test(arguments: [0, -1, 604_801, 1_000_000])
    func aPresignedURLCannotOutliveSevenDays(seconds: Int) {
        let signer = SigV4Signer(credentials: testCredentials, region: "us-east-1")
        let request = SigV4Signer.Request(method: "GET", encodedPath: "/k", headers: [("host", "h")])
        let error = #expect(throws: ObjectStorageError.self) {
            try signer.presignedQuery(for: request, expiresSeconds: seconds, at: testSuiteTime)
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("604800") == true)
        #expect(error?.isRetryable == false)
    }

    @Test func sevenDaysExactlyIsAllowed() throws {
        let signer = SigV4Signer(credentials: testCredentials, region: "us-east-1")
        let query = try signer.presignedQuery(
            for: SigV4Signer.Request(method: "GET", encodedPath: "/k", headers: [("host", "h")]),
            expiresSeconds: 604_800,
            at: testSuiteTime
        )
        #expect(query.contains("&X-Amz-Expires=604800&"))
    }

    @Test func theSessionTokenIsSignedAndTheSecretNeverAppears() throws {
        let credentials = SigV4Credentials(accessKeyID: "AKID", secretAccessKey: "super-secret-value/+=", sessionToken: "token/+=")
        let signer = SigV4Signer(credentials: credentials, region: "eu-central-1")
        let request = SigV4Signer.Request(method: "GET", encodedPath: "/k", headers: [("host", "h")])
        let headers = signer.signedHeaders(for: request, payloadHash: SigV4Signer.unsignedPayload, at: testSuiteTime)
        let authorization = try #require(headers.first { $0.name == "Authorization" }?.value)
        #expect(headers.contains { $0.name == "x-amz-security-token" && $0.value == "token/+=" })
        #expect(authorization.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"))
        let query = try signer.presignedQuery(for: request, expiresSeconds: 60, at: testSuiteTime)
        #expect(query.contains("&X-Amz-Security-Token=token%2F%2B%3D&X-Amz-Signature="))
        for text in [authorization, query, "\(credentials)", "\(signer)"] {
            #expect(!text.contains("super-secret-value"))
        }
        #expect(credentials.secrets == ["super-secret-value/+=", "token/+="])
    }

    @Test func theSigningTimeIsUTC() {
        let signer = SigV4Signer(credentials: testCredentials, region: "us-east-1")
        // 2024-02-29T23:59:59Z: a leap day, one second before midnight.
        let headers = signer.signedHeaders(
            for: SigV4Signer.Request(method: "GET", encodedPath: "/", headers: [("host", "h")]),
            payloadHash: SigV4Signer.emptyPayloadHash,
            at: Timestamp(secondsSinceEpoch: 1_709_251_199)
        )
        #expect(headers.first { $0.name == "x-amz-date" }?.value == "20240229T235959Z")
        #expect(headers.first { $0.name == "Authorization" }?.value.contains("/20240229/us-east-1/s3/aws4_request") == true)
    }
}

/// The example key pair of AWS's documentation.
let awsExampleCredentials = SigV4Credentials(
    accessKeyID: "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)
