import AsyncHTTPClient
import Crypto
import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolObjectStorage
import VideoSpoolRuntime
import VideoSpoolTesting

/// The client against a real S3 implementation that checks every request's SigV4 signature: moto's
/// server with an IAM user (see ``MotoServer``). moto recomputes each signature with botocore from
/// the request as it arrived (method, raw path, raw query, the signed headers' values).
@Suite(.enabled(if: MotoServer.canRun, Comment(rawValue: MotoServer.skipMessage)), .timeLimit(.minutes(5)))
struct S3MotoTests {
    func storage(
        _ server: MotoServer,
        client: HTTPClient,
        credentials: SigV4Credentials? = nil,
        addressing: S3Configuration.AddressingStyle = .path,
        endpoint: String? = nil,
        partBytes: Int = S3Configuration.minimumPartBytes,
        encryption: S3Configuration.ServerSideEncryption? = nil
    ) throws -> S3ObjectStorage {
        S3ObjectStorage(
            configuration: S3Configuration(
                endpoint: try S3Endpoint(parsing: endpoint ?? server.endpoint),
                region: "us-east-1",
                bucket: server.bucket,
                // Literal awkward characters too, so the server decodes what was signed.
                keyPrefix: try S3KeyTemplate("results/{date}/a b+ü~(1)/{job_id}/"),
                addressingStyle: addressing,
                serverSideEncryption: encryption,
                presignSeconds: 3600,
                partBytes: partBytes,
                requestTimeout: .seconds(120)
            ),
            credentials: credentials ?? server.credentials,
            httpClient: client,
            timeSource: SystemTimeSource(),
            logger: quietLogger
        )
    }

    static func checksum(_ bytes: [UInt8]) -> SHA256Checksum {
        SHA256Checksum(bytes: Array(SHA256.hash(data: bytes)))!
    }

    @Test func putHeadPresignedGetAndDeleteWithPathStyle() async throws {
        try await MotoServer.with { server in
            try await withTemporaryDirectory { directory in
                let bytes = try writeRandomFile(directory + "/01JDQ7.mp4", count: 200_000)
                let sha256 = Self.checksum(bytes)
                try await withHTTPClient { client in
                    let storage = try storage(server, client: client, encryption: .aes256)
                    let key = try storage.objectKey(jobID: "01JDQ7", fileName: "01JDQ7.mp4", date: SystemTimeSource().now())
                    #expect(key.hasPrefix("results/20") && key.hasSuffix("/a b+ü~(1)/01JDQ7/01JDQ7.mp4"))

                    let stored = try await storage.upload(file: directory + "/01JDQ7.mp4", key: key, sha256: sha256, contentType: "video/mp4")
                    #expect(stored.uri == "s3://videospool-results/" + key)
                    #expect(stored.bytes == 200_000)
                    #expect(stored.parts == 0)
                    #expect(stored.checksumSHA256 == sha256.base64)

                    let metadata = try #require(try await storage.head(key: key))
                    #expect(metadata.bytes == 200_000)
                    #expect(metadata.contentType == "video/mp4")
                    #expect(metadata.serverSideEncryption == "AES256")
                    #expect(metadata.checksumSHA256 == sha256.base64)
                    #expect(metadata.etag != nil)
                    try await storage.confirm(stored)
                    var tampered = stored
                    tampered.checksumSHA256 = Self.checksum([1, 2, 3]).base64
                    let mismatch = await #expect(throws: ObjectStorageError.self) { try await storage.confirm(tampered) }
                    #expect(mismatch?.code == .checksumMismatch)
                    var shorter = stored
                    shorter.bytes -= 1
                    let sizeMismatch = await #expect(throws: ObjectStorageError.self) { try await storage.confirm(shorter) }
                    #expect(sizeMismatch?.code == .checksumMismatch)

                    // moto cannot check a presigned URL's signature (with authentication on it
                    // answers 500: it looks for an Authorization header), so this GET checks that
                    // the URL addresses the object; botocore checks its signature (SigV4BotocoreTests).
                    let presigned = try storage.presignedGetURL(key: key)
                    try await server.setAuthentication(false)
                    let fetched = try await plainGET(presigned.url, client: client)
                    try await server.setAuthentication(true)
                    #expect(fetched.status == 200)
                    #expect(fetched.body == bytes)

                    try await storage.delete(key: key)
                    #expect(try await storage.head(key: key) == nil)
                    // Deleting what is not there succeeds, as in S3.
                    try await storage.delete(key: key)
                }
            }
        }
    }

    @Test func aFileLargerThanPartBytesGoesUpInPartsWithTheirChecksums() async throws {
        try await MotoServer.with { server in
            try await withTemporaryDirectory { directory in
                let size = 2 * S3Configuration.minimumPartBytes + 4321
                let bytes = try writeRandomFile(directory + "/big.mp4", count: size, seed: 7)
                let sha256 = Self.checksum(bytes)
                try await withHTTPClient { client in
                    let storage = try storage(server, client: client)
                    let key = try storage.objectKey(jobID: "big", fileName: "big.mp4", date: SystemTimeSource().now())
                    let stored = try await storage.upload(file: directory + "/big.mp4", key: key, sha256: sha256, contentType: "video/mp4")
                    #expect(stored.parts == 3)
                    #expect(stored.bytes == Int64(size))
                    let parts = [
                        Array(bytes[0..<S3Configuration.minimumPartBytes]),
                        Array(bytes[S3Configuration.minimumPartBytes..<(2 * S3Configuration.minimumPartBytes)]),
                        Array(bytes[(2 * S3Configuration.minimumPartBytes)...]),
                    ]
                    #expect(stored.checksumSHA256 == S3ObjectStorage.compositeChecksum(parts.map(Self.checksum)))
                    // moto computes the composite checksum from the parts it stored and reports it on HEAD.
                    let metadata = try #require(try await storage.head(key: key))
                    #expect(metadata.bytes == Int64(size))
                    #expect(metadata.checksumSHA256.map { stored.checksumSHA256.hasPrefix($0) } == true)
                    try await storage.confirm(stored)
                    #expect(try server.openUploads().isEmpty)

                    try await server.setAuthentication(false)
                    let fetched = try await plainGET(try storage.presignedGetURL(key: key).url, client: client)
                    try await server.setAuthentication(true)
                    #expect(fetched.status == 200)
                    #expect(fetched.body == bytes, "the stored object differs from the file")
                }
            }
        }
    }

    @Test func aMultipartUploadOfAFileThatChangedIsAbortedAndLeavesNothing() async throws {
        try await MotoServer.with { server in
            try await withTemporaryDirectory { directory in
                let bytes = try writeRandomFile(directory + "/big.mp4", count: S3Configuration.minimumPartBytes + 100, seed: 9)
                // The SHA-256 the downloader computed was of other content.
                var other = bytes
                other[0] ^= 0xFF
                let otherChecksum = Self.checksum(other)
                try await withHTTPClient { client in
                    let storage = try storage(server, client: client)
                    let error = await #expect(throws: ObjectStorageError.self) {
                        try await storage.upload(file: directory + "/big.mp4", key: "big.mp4", sha256: otherChecksum, contentType: "video/mp4")
                    }
                    #expect(error?.code == .checksumMismatch)
                    #expect(error?.isRetryable == false)
                    #expect(try server.openUploads().isEmpty, "the multipart upload was not aborted")
                    #expect(try await storage.head(key: "big.mp4") == nil)
                }
            }
        }
    }

    @Test func virtualHostStyleNamesTheBucketInTheHost() async throws {
        try await MotoServer.with { server in
            try await withTemporaryDirectory { directory in
                let bytes = try writeRandomFile(directory + "/v.mp4", count: 10_000)
                // moto takes the bucket from the first label of a host that is not localhost or an IP.
                try await withHTTPClient(dnsOverride: ["videospool-results.s3.test": "127.0.0.1"]) { client in
                    let storage = try storage(
                        server,
                        client: client,
                        addressing: .virtual,
                        endpoint: "http://s3.test:\(server.port)"
                    )
                    let key = "v ü+/v.mp4"
                    _ = try await storage.upload(file: directory + "/v.mp4", key: key, sha256: Self.checksum(bytes), contentType: "video/mp4")
                    #expect(try await storage.head(key: key)?.bytes == 10_000)
                    let presigned = try storage.presignedGetURL(key: key)
                    #expect(presigned.url.hasPrefix("http://videospool-results.s3.test:\(server.port)/v%20%C3%BC%2B/v.mp4?X-Amz-Algorithm="))
                    try await server.setAuthentication(false)
                    let fetched = try await plainGET(presigned.url, client: client)
                    try await server.setAuthentication(true)
                    #expect(fetched.body == bytes)
                    try await storage.delete(key: key)
                    #expect(try await storage.head(key: key) == nil)
                }
            }
        }
    }

    @Test func aWrongSecretFailsWithASignatureError() async throws {
        try await MotoServer.with { server in
            try await withTemporaryDirectory { directory in
                let bytes = try writeRandomFile(directory + "/w.mp4", count: 1000)
                try await withHTTPClient { client in
                    let wrongSecret = SigV4Credentials(
                        accessKeyID: server.credentials.accessKeyID,
                        secretAccessKey: String(server.credentials.secretAccessKey.reversed())
                    )
                    let wrong = try storage(server, client: client, credentials: wrongSecret)
                    let error = await #expect(throws: ObjectStorageError.self) {
                        try await wrong.upload(file: directory + "/w.mp4", key: "w.mp4", sha256: Self.checksum(bytes), contentType: "video/mp4")
                    }
                    #expect(error?.code == .rejected)
                    #expect(error?.status == 403)
                    #expect(error?.serviceCode == "SignatureDoesNotMatch")
                    #expect(error?.isRetryable == false)
                    #expect(error?.message.contains("signature") == true)
                    let deleteError = await #expect(throws: ObjectStorageError.self) { try await wrong.delete(key: "w.mp4") }
                    #expect(deleteError?.serviceCode == "SignatureDoesNotMatch")

                    let unknown = try storage(
                        server,
                        client: client,
                        credentials: SigV4Credentials(accessKeyID: "AKIAUNKNOWNKEY000000", secretAccessKey: "x")
                    )
                    let unknownError = await #expect(throws: ObjectStorageError.self) { try await unknown.delete(key: "w.mp4") }
                    #expect(unknownError?.serviceCode == "InvalidAccessKeyId")

                    // The right key, on the same server, passes: authentication is really on.
                    let right = try storage(server, client: client)
                    _ = try await right.upload(file: directory + "/w.mp4", key: "w.mp4", sha256: Self.checksum(bytes), contentType: "video/mp4")
                    #expect(try await right.head(key: "w.mp4")?.bytes == 1000)
                }
            }
        }
    }
}
