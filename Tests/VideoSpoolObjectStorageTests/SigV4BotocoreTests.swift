import AsyncHTTPClient
import Crypto
import Foundation
import Hummingbird
import NIOCore
import Testing
import VideoSpoolCore
import VideoSpoolObjectStorage
import VideoSpoolTesting

/// Our signer against botocore's (`S3SigV4Auth`, `S3SigV4QueryAuth`, installed by `make deps`) on the
/// same requests: botocore builds the URL from the unencoded bucket and key with its own S3 encoding,
/// derives the host header from that URL and hashes the body itself. Authorization headers and
/// presigned URLs must be equal byte for byte.
struct SigV4BotocoreTests {
    /// One request, described for both signers.
    struct Case {
        var kind = "header"
        var method = "PUT"
        var endpoint = "https://s3.us-east-1.amazonaws.com"
        var addressing = S3Configuration.AddressingStyle.virtual
        var bucket = "videospool-results"
        var key: String
        var params: [(String, String)] = []
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        var unsignedPayload = false
        var credentials = testCredentials
        var region = "us-east-1"
        var time = testSuiteTime
        var expires = 86400

        var json: [String: Any] {
            [
                "kind": kind, "method": method, "endpoint": endpoint, "addressing": addressing.rawValue, "bucket": bucket,
                "key": key, "params": params.map { [$0.0, $0.1] }, "headers": headers.map { [$0.0, $0.1] },
                "body_base64": Data(body).base64EncodedString(), "unsigned_payload": unsignedPayload,
                "access_key": credentials.accessKeyID, "secret_key": credentials.secretAccessKey,
                "token": credentials.sessionToken as Any, "region": region, "time": time.secondsSinceEpoch,
                "expires": expires,
            ]
        }

        func configuration() throws -> S3Configuration {
            S3Configuration(
                endpoint: try S3Endpoint(parsing: endpoint),
                region: region,
                bucket: bucket,
                keyPrefix: try S3KeyTemplate(""),
                addressingStyle: addressing
            )
        }

        /// What our signer produces: the Authorization header, or the presigned URL.
        func ours() throws -> String {
            let configuration = try configuration()
            let signer = SigV4Signer(credentials: credentials, region: region)
            let request = SigV4Signer.Request(
                method: method,
                encodedPath: configuration.encodedPath(key: key),
                query: params.map { (name: $0.0, value: $0.1) },
                headers: [("host", configuration.bucketHost)] + headers.map { (name: $0.0, value: $0.1) }
            )
            if kind == "presign" {
                let query = try signer.presignedQuery(for: request, expiresSeconds: expires, at: time)
                return configuration.origin + request.encodedPath + "?" + query
            }
            let hash = unsignedPayload ? SigV4Signer.unsignedPayload : SigV4Signer.hexSHA256(body)
            let signed = signer.signedHeaders(for: request, payloadHash: hash, at: time)
            return try #require(signed.first { $0.name == "Authorization" }?.value)
        }
    }

    static let session = SigV4Credentials(
        accessKeyID: "ASIAEXAMPLETOKEN",
        secretAccessKey: "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        sessionToken: "FwoGZXIvYXdzEBYaDH/+token+with/slashes=="
    )

    static let awkwardKeys = [
        "videospool/2026-11-29/01JDQ7Z3N8W4YV2K6M9P0R5T1X.mp4",
        "a b/c+d~e.mp4",
        "ü/ሴ/🎬 final.mp4",
        "odd !$&'()*,;=:@[]^`{}|\"<>.mp4",
        "%41%2F percent already",
        "dir//double/slash/",
        "   spaces   ",
    ]

    static var cases: [Case] {
        var cases: [Case] = []
        for (index, key) in awkwardKeys.enumerated() {
            // Header signing: every key, alternating addressing, endpoints, regions and credentials.
            cases.append(
                Case(
                    method: ["PUT", "GET", "HEAD", "DELETE", "POST"][index % 5],
                    endpoint: ["https://s3.us-east-1.amazonaws.com", "http://127.0.0.1:9000", "https://acc.r2.cloudflarestorage.com",
                        "http://minio.local:9000/"][index % 4],
                    addressing: index % 2 == 0 ? .virtual : .path,
                    key: key,
                    headers: [("Content-Type", "video/mp4"), ("x-amz-checksum-sha256", "LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=")],
                    body: Array("body of \(key)".utf8),
                    credentials: index % 3 == 0 ? session : testCredentials,
                    region: ["us-east-1", "eu-central-1", "auto", "us-west-004"][index % 4]
                )
            )
            // Presigning: every key, with and without a session token, several lifetimes.
            cases.append(
                Case(
                    kind: "presign",
                    method: "GET",
                    endpoint: index % 2 == 0 ? "https://s3.eu-west-1.amazonaws.com" : "http://localhost:5000",
                    addressing: index % 2 == 0 ? .virtual : .path,
                    key: key,
                    credentials: index % 2 == 0 ? session : testCredentials,
                    region: "eu-west-1",
                    expires: [1, 3600, 86400, 604_800][index % 4]
                )
            )
        }
        // The multipart requests' query strings, an unsigned payload, awkward header values.
        cases.append(Case(method: "POST", key: "k.mp4", params: [("uploads", "")], headers: [("x-amz-checksum-algorithm", "SHA256")]))
        cases.append(Case(key: "k.mp4", params: [("partNumber", "10"), ("uploadId", "2~abc+def/ghi= jkl")], body: Array(repeating: 7, count: 70_000)))
        cases.append(Case(method: "POST", key: "k.mp4", params: [("uploadId", "VXBsb2FkIElE")], body: Array("<CompleteMultipartUpload/>".utf8)))
        cases.append(Case(method: "GET", key: "k.mp4", unsignedPayload: true))
        cases.append(Case(key: "k", headers: [("X-Amz-Meta-Note", "  two   spaces\tand tab  "), ("x-amz-server-side-encryption", "aws:kms")]))
        cases.append(
            Case(kind: "presign", method: "GET", key: "k.mp4", params: [("response-content-disposition", "attachment; filename=\"a b+ü.mp4\"")])
        )
        return cases
    }

    @Test func headersAndPresignedURLsEqualBotocores() throws {
        let cases = Self.cases
        let input = try JSONSerialization.data(withJSONObject: cases.map(\.json))
        let output = try runPython(packageRoot + "/Tests/python/sigv4_botocore.py", input: Array(input))
        let results = try #require(try JSONSerialization.jsonObject(with: Data(output)) as? [[String: String]])
        try #require(results.count == cases.count)
        for (testCase, result) in zip(cases, results) {
            let theirs = testCase.kind == "presign" ? result["url"] : result["authorization"]
            #expect(
                try testCase.ours() == theirs,
                "\(testCase.kind) \(testCase.method) \(testCase.key) (\(testCase.addressing)); botocore's canonical request:\n\(result["canonical_request"] ?? "")"
            )
        }
    }

    /// The S3 client's own requests, as a loopback server receives them, carry exactly the
    /// Authorization header botocore computes for the same request.
    @Test(.timeLimit(.minutes(5))) func theClientsWireRequestsEqualBotocores() async throws {
        let log = RequestLog()
        let router = Router()
        router.put("**") { request, _ -> Response in
            log.record(request)
            return Response(status: .ok, headers: [.eTag: "\"etag\""])
        }
        router.delete("**") { request, _ -> HTTPResponse.Status in
            log.record(request)
            return .noContent
        }
        try await withTemporaryDirectory { directory in
            let bytes = try writeRandomFile(directory + "/video.mp4", count: 300_000)
            let sha256 = try #require(SHA256Checksum(bytes: Array(SHA256.hash(data: bytes))))
            let key = "results/ü b+~/01J!.mp4"
            try await LoopbackServer.serve(router) { port in
                try await withHTTPClient { client in
                    let configuration = try loopbackConfiguration(port: port)
                    let storage = S3ObjectStorage(
                        configuration: configuration,
                        credentials: Self.session,
                        httpClient: client,
                        timeSource: FixedTimeSource(time: testSuiteTime),
                        logger: quietLogger
                    )
                    _ = try await storage.upload(file: directory + "/video.mp4", key: key, sha256: sha256, contentType: "video/mp4")
                    try await storage.delete(key: key)
                    let presigned = try storage.presignedGetURL(key: key)
                    let expected = Case(
                        kind: "presign",
                        method: "GET",
                        endpoint: "http://127.0.0.1:\(port)",
                        addressing: .path,
                        bucket: "videos",
                        key: key,
                        credentials: Self.session,
                        expires: configuration.presignSeconds
                    )
                    let cases = [
                        Case(
                            method: "PUT",
                            endpoint: "http://127.0.0.1:\(port)",
                            addressing: .path,
                            bucket: "videos",
                            key: key,
                            headers: [
                                ("content-type", "video/mp4"), ("x-amz-checksum-sha256", sha256.base64),
                                ("x-amz-sdk-checksum-algorithm", "SHA256"),
                            ],
                            body: bytes,
                            credentials: Self.session
                        ),
                        Case(
                            method: "DELETE",
                            endpoint: "http://127.0.0.1:\(port)",
                            addressing: .path,
                            bucket: "videos",
                            key: key,
                            credentials: Self.session
                        ),
                        expected,
                    ]
                    let input = try JSONSerialization.data(withJSONObject: cases.map(\.json))
                    let output = try runPython(packageRoot + "/Tests/python/sigv4_botocore.py", input: Array(input))
                    let results = try #require(try JSONSerialization.jsonObject(with: Data(output)) as? [[String: String]])
                    let received = log.all
                    try #require(received.count == 2)
                    try #require(results.count == 3)
                    #expect(received[0].uri == "/videos/results/%C3%BC%20b%2B~/01J%21.mp4")
                    #expect(received[0].headers["authorization"] == results[0]["authorization"])
                    #expect(received[0].headers["x-amz-content-sha256"] == results[0]["content_sha256"])
                    #expect(received[0].headers["x-amz-security-token"] == Self.session.sessionToken)
                    #expect(received[1].headers["authorization"] == results[1]["authorization"])
                    #expect(presigned.url == results[2]["url"])
                    #expect(presigned.expiresAt == Timestamp(secondsSinceEpoch: testSuiteTime.secondsSinceEpoch + 86400))
                }
            }
        }
    }
}

extension SigV4Signer {
    static func hexSHA256(_ bytes: [UInt8]) -> String {
        SHA256Checksum(bytes: Array(SHA256.hash(data: bytes)))!.hex
    }
}
