import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import InMemoryLogging
import Logging
import NIOCore
import Testing
import VideoSpoolCore
import VideoSpoolObjectStorage
import VideoSpoolTesting

/// The client's handling of what a server can do: error answers, stalls, huge bodies, a failing
/// multipart upload, a file that changed. A Hummingbird stand-in on loopback plays the server.
@Suite(.timeLimit(.minutes(5)))
struct S3ObjectStorageTests {
    /// The deadline is generous: a loaded machine is not what these tests are about (the deadline
    /// tests set their own short one).
    static func storage(port: Int, client: HTTPClient, timeout: Duration = .seconds(120), logger: Logger = quietLogger) throws
        -> S3ObjectStorage
    {
        S3ObjectStorage(
            configuration: try loopbackConfiguration(port: port, timeout: timeout),
            credentials: testCredentials,
            httpClient: client,
            timeSource: FixedTimeSource(time: testSuiteTime),
            logger: logger
        )
    }

    static func checksum(_ bytes: [UInt8]) -> SHA256Checksum {
        SHA256Checksum(bytes: Array(SHA256.hash(data: bytes)))!
    }

    // MARK: - Error answers

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var status: Int
        var code: String
        var expected: ObjectStorageError.Code
        var retryable: Bool
        var testDescription: String { "\(status) \(code)" }
    }

    @Test(arguments: [
        ErrorCase(status: 403, code: "SignatureDoesNotMatch", expected: .rejected, retryable: false),
        ErrorCase(status: 403, code: "AccessDenied", expected: .rejected, retryable: false),
        ErrorCase(status: 404, code: "NoSuchBucket", expected: .rejected, retryable: false),
        ErrorCase(status: 400, code: "InvalidArgument", expected: .rejected, retryable: false),
        ErrorCase(status: 400, code: "RequestTimeout", expected: .rejected, retryable: true),
        ErrorCase(status: 403, code: "RequestTimeTooSkewed", expected: .rejected, retryable: true),
        ErrorCase(status: 409, code: "OperationAborted", expected: .rejected, retryable: true),
        ErrorCase(status: 429, code: "TooManyRequests", expected: .throttled, retryable: true),
        ErrorCase(status: 503, code: "SlowDown", expected: .throttled, retryable: true),
        ErrorCase(status: 500, code: "InternalError", expected: .serverError, retryable: true),
        ErrorCase(status: 301, code: "PermanentRedirect", expected: .redirected, retryable: false),
    ])
    func anErrorAnswerBecomesADomainError(_ errorCase: ErrorCase) async throws {
        let router = Router()
        router.delete("**") { _, _ in
            s3Error(
                HTTPResponse.Status(code: errorCase.status),
                code: errorCase.code,
                message: "Told &amp; explained",
                extra: errorCase.status == 301 ? "<Endpoint>videos.s3.eu-west-1.amazonaws.com</Endpoint>" : ""
            )
        }
        try await LoopbackServer.serve(router) { port in
            try await withHTTPClient { client in
                let storage = try Self.storage(port: port, client: client)
                let error = await #expect(throws: ObjectStorageError.self) { try await storage.delete(key: "k.mp4") }
                #expect(error?.code == errorCase.expected)
                #expect(error?.isRetryable == errorCase.retryable)
                #expect(error?.status == errorCase.status)
                #expect(error?.serviceCode == errorCase.code)
                #expect(error?.message.hasPrefix("DeleteObject: Told & explained") == true)
                if errorCase.status == 301 {
                    #expect(error?.message.contains("videos.s3.eu-west-1.amazonaws.com") == true)
                }
            }
        }
    }

    @Test func aRefusedConnectionIsRetryable() async throws {
        let port = try await LoopbackServer.serve(Router()) { port in port }
        try await withHTTPClient { client in
            let storage = try Self.storage(port: port, client: client)
            let error = await #expect(throws: ObjectStorageError.self) { try await storage.head(key: "k") }
            #expect(error?.code == .transport)
            #expect(error?.isRetryable == true)
        }
    }

    @Test func aMissingObjectIsNilAndDeletingItSucceeds() async throws {
        let router = Router()
        router.head("**") { _, _ in HTTPResponse.Status.notFound }
        router.delete("**") { _, _ in s3Error(.notFound, code: "NoSuchKey", message: "The specified key does not exist.") }
        try await LoopbackServer.serve(router) { port in
            try await withHTTPClient { client in
                let storage = try Self.storage(port: port, client: client)
                #expect(try await storage.head(key: "gone.mp4") == nil)
                try await storage.delete(key: "gone.mp4")
            }
        }
    }

    // MARK: - Deadlines and caps

    @Test func aServerThatNeverAnswersMeetsTheDeadline() async throws {
        let router = Router()
        router.head("**") { _, _ -> HTTPResponse.Status in
            try await Task.sleep(for: .seconds(3600))
            return .ok
        }
        try await LoopbackServer.serve(router) { port in
            try await withHTTPClient { client in
                let storage = try Self.storage(port: port, client: client, timeout: .milliseconds(500))
                let started = ContinuousClock.now
                let error = await #expect(throws: ObjectStorageError.self) { try await storage.head(key: "k") }
                #expect(error?.code == .timedOut)
                #expect(error?.isRetryable == true)
                #expect(ContinuousClock.now - started < .seconds(30))
            }
        }
    }

    @Test func aBodyThatStallsAfterTheStatusMeetsTheDeadline() async throws {
        let router = Router()
        router.delete("**") { _, _ -> Response in
            let stalling = AsyncStream<ByteBuffer> { continuation in
                continuation.yield(ByteBuffer(string: "<Error><Code>InternalError</Code>"))
                // Never finished: the rest of the body never comes.
            }
            return Response(status: .internalServerError, body: ResponseBody(asyncSequence: stalling))
        }
        try await LoopbackServer.serve(router) { port in
            try await withHTTPClient { client in
                let storage = try Self.storage(port: port, client: client, timeout: .milliseconds(500))
                let error = await #expect(throws: ObjectStorageError.self) { try await storage.delete(key: "k") }
                #expect(error?.code == .timedOut)
            }
        }
    }

    @Test func aHugeErrorBodyIsReadOnlyUpToTheCap() async throws {
        let router = Router()
        router.delete("**") { _, _ -> Response in
            // 32 times the cap.
            let padding = String(repeating: "x", count: 2 * 1024 * 1024)
            return s3Error(.forbidden, code: "AccessDenied", message: "Access Denied", extra: "<Padding>\(padding)</Padding>")
        }
        try await LoopbackServer.serve(router) { port in
            try await withHTTPClient { client in
                let storage = try Self.storage(port: port, client: client)
                let error = await #expect(throws: ObjectStorageError.self) { try await storage.delete(key: "k") }
                #expect(error?.serviceCode == "AccessDenied", "\(error.map { "\($0)" } ?? "no error")")
                #expect((error?.description.count ?? .max) < 1000)
            }
        }
    }

    // MARK: - Uploads

    /// A stand-in for the multipart API that fails where it is told to, and records every request.
    static func multipartRouter(log: RequestLog, failPart: Int? = nil, completeAnswer: @escaping @Sendable () -> Response)
        -> Router<BasicRequestContext>
    {
        let router = Router()
        router.post("**") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            log.record(request)
            if request.uri.queryParameters["uploads"] != nil {
                return Response(
                    status: .ok,
                    body: ResponseBody(
                        byteBuffer: ByteBuffer(
                            string: "<InitiateMultipartUploadResult><Bucket>videos</Bucket><Key>k</Key>"
                                + "<UploadId>upload&amp;1</UploadId></InitiateMultipartUploadResult>"
                        )
                    )
                )
            }
            return completeAnswer()
        }
        router.put("**") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 64 << 20)
            log.record(request)
            let part = request.uri.queryParameters["partNumber"].flatMap { Int($0) }
            if let failPart, part == failPart {
                return s3Error(.internalServerError, code: "InternalError", message: "We encountered an internal error.")
            }
            return Response(status: .ok, headers: [.eTag: "\"etag-\(part ?? 0)\""])
        }
        router.delete("**") { request, _ -> HTTPResponse.Status in
            log.record(request)
            return .noContent
        }
        return router
    }

    @Test func aFailedPartAbortsTheMultipartUpload() async throws {
        let log = RequestLog()
        let router = Self.multipartRouter(log: log, failPart: 2) { Response(status: .ok) }
        try await withTemporaryDirectory { directory in
            let bytes = try writeRandomFile(directory + "/big.mp4", count: 2 * S3Configuration.minimumPartBytes + 10)
            try await LoopbackServer.serve(router) { port in
                try await withHTTPClient { client in
                    let storage = try Self.storage(port: port, client: client)
                    let error = await #expect(throws: ObjectStorageError.self) {
                        try await storage.upload(file: directory + "/big.mp4", key: "big.mp4", sha256: Self.checksum(bytes), contentType: "video/mp4")
                    }
                    #expect(error?.code == .serverError)
                    #expect(error?.isRetryable == true)
                }
            }
            let requests = log.all
            #expect(requests.map(\.method) == ["POST", "PUT", "PUT", "DELETE"])
            #expect(requests.first?.headers["x-amz-checksum-algorithm"] == "SHA256")
            #expect(requests.first?.headers["x-amz-checksum-type"] == "COMPOSITE")
            #expect(requests.dropFirst().first?.uri == "/videos/big.mp4?partNumber=1&uploadId=upload%261")
            let firstPart = Array(bytes[0..<S3Configuration.minimumPartBytes])
            #expect(requests.dropFirst().first?.headers["x-amz-checksum-sha256"] == Self.checksum(firstPart).base64)
            #expect(requests.dropFirst().first?.headers["x-amz-content-sha256"] == Self.checksum(firstPart).hex)
            #expect(requests.last?.uri == "/videos/big.mp4?uploadId=upload%261", "the upload was not aborted")
        }
    }

    @Test func aCompletionAnswered200WithAnErrorIsAFailureAndAborts() async throws {
        let log = RequestLog()
        let router = Self.multipartRouter(log: log) {
            // S3 may send the status before it knows the outcome, then put the error in the body.
            s3Error(.ok, code: "InternalError", message: "We encountered an internal error. Please try again.")
        }
        try await withTemporaryDirectory { directory in
            let bytes = try writeRandomFile(directory + "/big.mp4", count: S3Configuration.minimumPartBytes + 1)
            try await LoopbackServer.serve(router) { port in
                try await withHTTPClient { client in
                    let storage = try Self.storage(port: port, client: client)
                    let error = await #expect(throws: ObjectStorageError.self) {
                        try await storage.upload(file: directory + "/big.mp4", key: "big.mp4", sha256: Self.checksum(bytes), contentType: "video/mp4")
                    }
                    #expect(error?.serviceCode == "InternalError")
                    #expect(error?.code == .serverError)
                    #expect(error?.status == 200)
                    #expect(error?.isRetryable == true)
                }
            }
            let requests = log.all
            try #require(requests.map(\.method) == ["POST", "PUT", "PUT", "POST", "DELETE"])
            #expect(requests[3].headers["x-amz-checksum-type"] == "COMPOSITE")
        }
    }

    @Test func aSinglePutOfAFileThatChangedNeverCompletes() async throws {
        let log = RequestLog()
        let router = Router()
        router.put("**") { request, _ -> HTTPResponse.Status in
            // Recorded only once the whole body has arrived.
            _ = try await request.body.collect(upTo: 64 << 20)
            log.record(request)
            return .ok
        }
        try await withTemporaryDirectory { directory in
            let bytes = try writeRandomFile(directory + "/v.mp4", count: 3 * 1024 * 1024 + 17)
            var other = bytes
            other[other.count - 1] ^= 1
            let otherChecksum = Self.checksum(other)
            try await LoopbackServer.serve(router) { port in
                try await withHTTPClient { client in
                    let storage = try Self.storage(port: port, client: client)
                    let error = await #expect(throws: ObjectStorageError.self) {
                        try await storage.upload(file: directory + "/v.mp4", key: "v.mp4", sha256: otherChecksum, contentType: "video/mp4")
                    }
                    #expect(error?.code == .checksumMismatch)
                    #expect(error?.isRetryable == false)
                    // The same file with its real checksum goes through the same stand-in.
                    _ = try await storage.upload(file: directory + "/v.mp4", key: "v.mp4", sha256: Self.checksum(bytes), contentType: "video/mp4")
                }
            }
            #expect(log.all.count == 1, "a body with unverified content reached the server")
            #expect(log.all.first?.headers["x-amz-checksum-sha256"] == Self.checksum(bytes).base64)
        }
    }

    @Test func anEmptyFileWithAnotherChecksumIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            _ = FileManager.default.createFile(atPath: directory + "/empty.mp4", contents: Data())
            try await withHTTPClient { client in
                let storage = try Self.storage(port: 9, client: client)
                let error = await #expect(throws: ObjectStorageError.self) {
                    try await storage.upload(file: directory + "/empty.mp4", key: "e", sha256: Self.checksum([1]), contentType: "video/mp4")
                }
                #expect(error?.code == .checksumMismatch)
            }
        }
    }

    @Test func anEmptyOrOverlongKeyIsRefusedBeforeSending() async throws {
        try await withHTTPClient { client in
            let storage = try Self.storage(port: 9, client: client)
            for key in ["", String(repeating: "k", count: 1025)] {
                let error = await #expect(throws: ObjectStorageError.self) { try await storage.head(key: key) }
                #expect(error?.code == .invalidArgument)
            }
        }
    }

    @Test func aMissingFileIsALocalFileError() async throws {
        try await withHTTPClient { client in
            let storage = try Self.storage(port: 9, client: client)
            let error = await #expect(throws: ObjectStorageError.self) {
                try await storage.upload(file: "/nonexistent/v.mp4", key: "v", sha256: Self.checksum([]), contentType: "video/mp4")
            }
            #expect(error?.code == .localFile)
            #expect(error?.message.contains("/nonexistent/v.mp4") == true)
            #expect(error?.isRetryable == false)
        }
    }

    @Test func aFileIsStreamedInBoundedChunks() async throws {
        try await withTemporaryDirectory { directory in
            let bytes = try writeRandomFile(directory + "/v.mp4", count: 3 * 1024 * 1024 + 5)
            let chunks = try await ReadOnlyFile.withFile(directory + "/v.mp4") { file async throws(ObjectStorageError) in
                var sizes: [Int] = []
                var joined: [UInt8] = []
                do {
                    for try await chunk in FileSlice(file: file, offset: 1000, length: file.size - 1000, chunkBytes: 512 * 1024) {
                        sizes.append(chunk.readableBytes)
                        joined += chunk.readableBytesView
                    }
                } catch {
                    throw ObjectStorageError(code: .localFile, "\(error)")
                }
                return (sizes, joined)
            }
            #expect(chunks.0.allSatisfy { $0 <= 512 * 1024 })
            #expect(chunks.0.count == 6)
            #expect(chunks.1 == Array(bytes[1000...]))
        }
    }

    @Test func partsGrowToStayWithinTenThousand() {
        let mebibyte: Int64 = 1024 * 1024
        #expect(S3ObjectStorage.partSize(fileSize: 2 << 30, partBytes: 64 << 20) == 64 * mebibyte)
        let huge: Int64 = 100 << 30
        let part = S3ObjectStorage.partSize(fileSize: huge, partBytes: 5 << 20)
        #expect(part == 11 * mebibyte)
        #expect((huge + part - 1) / part <= 10_000)
    }

    // MARK: - Secrets

    @Test func theSecretReachesNoLogAndNoError() async throws {
        let secret = testCredentials.secretAccessKey
        let router = Router()
        router.delete("**") { _, _ in
            // A server that echoes what it should not.
            s3Error(.forbidden, code: "AccessDenied", message: "no access for \(secret)")
        }
        router.put("**") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .ok, headers: [.eTag: "\"e\""])
        }
        let memory = InMemoryLogHandler()
        let logger = {
            var logger = Logger(label: "s3", factory: { _ in memory })
            logger.logLevel = .trace
            return logger
        }()
        try await withTemporaryDirectory { directory in
            let bytes = try writeRandomFile(directory + "/v.mp4", count: 5000)
            try await LoopbackServer.serve(router) { port in
                try await withHTTPClient { client in
                    let storage = try Self.storage(port: port, client: client, logger: logger)
                    _ = try await storage.upload(file: directory + "/v.mp4", key: "v.mp4", sha256: Self.checksum(bytes), contentType: "video/mp4")
                    let error = await #expect(throws: ObjectStorageError.self) { try await storage.delete(key: "v.mp4") }
                    #expect(error?.description.contains(secret) == false)
                    #expect(error?.description.contains("[redacted]") == true)
                    _ = try storage.presignedGetURL(key: "v.mp4")
                }
            }
        }
        let entries = memory.entries
        #expect(!entries.isEmpty, "the client logged nothing at trace level")
        for entry in entries {
            #expect(!"\(entry.message) \(entry.metadata)".contains(secret))
        }
    }
}
