public import AsyncHTTPClient
public import Logging
import Crypto
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
public import VideoSpoolCore

#if canImport(Glibc)
import Glibc
#endif

/// Stores result files in S3-compatible object storage (AWS S3, MinIO, Cloudflare R2, Backblaze
/// B2) over AsyncHTTPClient, signing every request with ``SigV4Signer``.
///
/// - Files are streamed from disk, never held in memory; above ``S3Configuration/partBytes`` they
///   go up in parts (multipart upload), and a failed multipart upload is aborted.
/// - The content's SHA-256, computed by the caller while downloading, is sent as
///   `x-amz-checksum-sha256` (and signed as the payload hash), so the storage refuses bytes that
///   differ from what was verified.
/// - Every request has a deadline; error answers are read up to 64 KiB.
/// - Failures are ``ObjectStorageError``s that say whether a later attempt can help. Nothing is
///   retried here: the caller owns the schedule.
/// - The HTTP client must not follow redirects (`redirectConfiguration = .disallow`): a redirect from
///   S3 means a wrong region or endpoint and is reported as such.
public final class S3ObjectStorage: Sendable {
    /// An uploaded object.
    public struct StoredObject: Sendable, Equatable {
        public var bucket: String
        public var key: String
        /// `s3://bucket/key`.
        public var uri: String
        public var bytes: Int64
        public var etag: String?
        /// The object's checksum as S3 keeps it: the base64 SHA-256 for a single upload, or the
        /// composite `base64(SHA-256 of the parts' digests)-N` for a multipart upload. When the
        /// storage reported one in its answer, it was this.
        public var checksumSHA256: String
        /// 0 for a single PUT, else the number of parts.
        public var parts: Int
    }

    /// What HEAD says about an object.
    public struct ObjectMetadata: Sendable, Equatable {
        public var bytes: Int64
        public var etag: String?
        public var contentType: String?
        public var checksumSHA256: String?
        /// `x-amz-server-side-encryption` as stored (`AES256`, `aws:kms`).
        public var serverSideEncryption: String?
    }

    /// A presigned GET URL and when it stops working.
    public struct PresignedURL: Sendable, Equatable {
        public var url: String
        public var expiresAt: Timestamp
    }

    /// The settings one operation uses from start to end, even if a reload changes them meanwhile.
    private struct Snapshot: Sendable {
        var configuration: S3Configuration
        var signer: SigV4Signer
        var scrubber: SecretScrubber
    }

    private let state: Mutex<Snapshot>
    private let client: HTTPClient
    private let timeSource: any TimeSource
    private let logger: Logger
    /// Request bodies are read from disk in chunks of this size.
    static let chunkBytes = 512 * 1024
    /// Error answers and XML results are read up to this size.
    static let maximumResponseBytes = 64 * 1024

    public init(
        configuration: S3Configuration,
        credentials: SigV4Credentials,
        httpClient: HTTPClient,
        timeSource: any TimeSource,
        logger: Logger
    ) {
        self.state = Mutex(Self.makeState(configuration, credentials))
        self.client = httpClient
        self.timeSource = timeSource
        self.logger = logger
    }

    private static func makeState(_ configuration: S3Configuration, _ credentials: SigV4Credentials) -> Snapshot {
        Snapshot(
            configuration: configuration,
            signer: SigV4Signer(credentials: credentials, region: configuration.region, service: "s3"),
            scrubber: SecretScrubber(secrets: credentials.secrets)
        )
    }

    /// Applies new settings or credentials (configuration reload); requests in flight keep the old ones.
    public func update(configuration: S3Configuration, credentials: SigV4Credentials) {
        state.withLock { $0 = Self.makeState(configuration, credentials) }
    }

    public var configuration: S3Configuration { state.withLock { $0.configuration } }

    private var snapshot: Snapshot { state.withLock { $0 } }

    /// The key for a job's stored file under ``S3Configuration/keyPrefix``.
    public func objectKey(jobID: String, fileName: String, date: Timestamp) throws(ObjectStorageError) -> String {
        try configuration.keyPrefix.key(jobID: jobID, fileName: fileName, date: date)
    }

    /// `s3://bucket/key`.
    public func objectURI(key: String) -> String {
        "s3://" + configuration.bucket + "/" + key
    }

    // MARK: - Operations

    /// Uploads the file at `path` as `key`: one PUT, or a multipart upload when the file is larger
    /// than ``S3Configuration/partBytes``.
    ///
    /// - Parameters:
    ///   - sha256: the SHA-256 of the file's content, as computed while downloading it. The upload
    ///     fails with `checksumMismatch` if the file no longer has that content.
    ///   - contentType: stored as the object's `Content-Type`.
    public func upload(
        file path: String,
        key: String,
        sha256: SHA256Checksum,
        contentType: String
    ) async throws(ObjectStorageError) -> StoredObject {
        let snapshot = self.snapshot
        return try await ReadOnlyFile.withFile(path) { file async throws(ObjectStorageError) -> StoredObject in
            // An empty body has no chunk to check on the way out: check here.
            if file.size == 0, sha256.hex != SigV4Signer.emptyPayloadHash {
                throw ObjectStorageError(code: .checksumMismatch, "\(path) is empty, but its SHA-256 was \(sha256.hex)")
            }
            if file.size > Int64(snapshot.configuration.partBytes) {
                return try await multipartUpload(file, key: key, sha256: sha256, contentType: contentType, snapshot)
            }
            return try await putObject(file, key: key, sha256: sha256, contentType: contentType, snapshot)
        }
    }

    /// HEAD: the object's size, ETag, type and stored checksum, or nil when there is no such object.
    public func head(key: String) async throws(ObjectStorageError) -> ObjectMetadata? {
        let response = try await send(
            S3Request(operation: "HeadObject", method: .HEAD, key: key, headers: [("x-amz-checksum-mode", "ENABLED")]),
            snapshot
        )
        if response.status == 404 { return nil }
        try response.requireSuccess("HeadObject")
        return ObjectMetadata(
            bytes: response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0,
            etag: response.headers.first(name: "etag"),
            contentType: response.headers.first(name: "content-type"),
            checksumSHA256: response.headers.first(name: "x-amz-checksum-sha256"),
            serverSideEncryption: response.headers.first(name: "x-amz-server-side-encryption")
        )
    }

    /// HEADs an uploaded object and checks that the storage holds what was sent: the size, and the
    /// checksum when the storage reports one (some give a composite checksum without its `-N`).
    ///
    /// - Throws: ``ObjectStorageError``: `checksumMismatch` when the object differs, `invalidResponse`
    ///   when it is missing.
    public func confirm(_ stored: StoredObject) async throws(ObjectStorageError) {
        guard let metadata = try await head(key: stored.key) else {
            throw ObjectStorageError(code: .invalidResponse, "HeadObject: \(stored.uri) is missing after its upload")
        }
        guard metadata.bytes == stored.bytes else {
            throw ObjectStorageError(
                code: .checksumMismatch,
                "HeadObject: \(stored.uri) has \(metadata.bytes) bytes, not the \(stored.bytes) sent"
            )
        }
        func digest(_ checksum: String) -> Substring { checksum.split(separator: "-").first ?? "" }
        if let reported = metadata.checksumSHA256, digest(reported) != digest(stored.checksumSHA256) {
            throw ObjectStorageError(
                code: .checksumMismatch,
                "HeadObject: \(stored.uri) has the checksum \(reported), not \(stored.checksumSHA256)"
            )
        }
    }

    /// DELETE. Deleting an object that does not exist succeeds, as it does in S3.
    public func delete(key: String) async throws(ObjectStorageError) {
        let response = try await send(S3Request(operation: "DeleteObject", method: .DELETE, key: key), snapshot)
        if response.status == 404, response.serviceCode == "NoSuchKey" { return }
        try response.requireSuccess("DeleteObject")
    }

    /// A presigned GET URL for `key`, valid for ``S3Configuration/presignSeconds`` from now.
    ///
    /// - Important: With temporary credentials (a session token) the URL stops working when the
    ///   token expires, whichever comes first.
    public func presignedGetURL(key: String) throws(ObjectStorageError) -> PresignedURL {
        let (configuration, signer) = state.withLock { ($0.configuration, $0.signer) }
        let now = timeSource.now()
        let path = configuration.encodedPath(key: key)
        let query = try signer.presignedQuery(
            for: SigV4Signer.Request(method: "GET", encodedPath: path, headers: [("host", configuration.bucketHost)]),
            expiresSeconds: configuration.presignSeconds,
            at: now
        )
        return PresignedURL(
            url: configuration.origin + path + "?" + query,
            expiresAt: Timestamp(secondsSinceEpoch: now.secondsSinceEpoch + Int64(configuration.presignSeconds))
        )
    }

    // MARK: - Uploads

    private func putObject(
        _ file: ReadOnlyFile,
        key: String,
        sha256: SHA256Checksum,
        contentType: String,
        _ snapshot: Snapshot
    ) async throws(ObjectStorageError) -> StoredObject {
        let configuration = snapshot.configuration
        var headers: [(name: String, value: String)] = [
            ("content-type", contentType),
            ("x-amz-checksum-sha256", sha256.base64),
            ("x-amz-sdk-checksum-algorithm", "SHA256"),
        ]
        headers += Self.encryptionHeaders(configuration.serverSideEncryption)
        let response = try await send(
            S3Request(
                operation: "PutObject",
                method: .PUT,
                key: key,
                headers: headers,
                body: .file(FileSlice(file: file, offset: 0, length: file.size, chunkBytes: Self.chunkBytes, expected: sha256)),
                payloadHash: sha256.hex
            ),
            snapshot
        )
        try response.requireSuccess("PutObject")
        let reported = response.headers.first(name: "x-amz-checksum-sha256")
        if let reported, reported != sha256.base64 {
            throw ObjectStorageError(
                code: .checksumMismatch,
                "PutObject: the storage reports SHA-256 \(reported), not \(sha256.base64)"
            )
        }
        return StoredObject(
            bucket: configuration.bucket,
            key: key,
            uri: "s3://" + configuration.bucket + "/" + key,
            bytes: file.size,
            etag: response.headers.first(name: "etag"),
            checksumSHA256: sha256.base64,
            parts: 0
        )
    }

    /// The part size for a file: ``S3Configuration/partBytes``, or larger (whole MiB) when the file
    /// would need more than 10,000 parts.
    package static func partSize(fileSize: Int64, partBytes: Int) -> Int64 {
        let mebibyte: Int64 = 1024 * 1024
        let needed = (fileSize + Int64(S3Configuration.maximumParts) - 1) / Int64(S3Configuration.maximumParts)
        return max(Int64(partBytes), (needed + mebibyte - 1) / mebibyte * mebibyte)
    }

    private func multipartUpload(
        _ file: ReadOnlyFile,
        key: String,
        sha256: SHA256Checksum,
        contentType: String,
        _ snapshot: Snapshot
    ) async throws(ObjectStorageError) -> StoredObject {
        let configuration = snapshot.configuration
        var createHeaders: [(name: String, value: String)] = [
            ("content-type", contentType),
            ("x-amz-checksum-algorithm", "SHA256"),
            ("x-amz-checksum-type", "COMPOSITE"),
        ]
        createHeaders += Self.encryptionHeaders(configuration.serverSideEncryption)
        let created = try await send(
            S3Request(
                operation: "CreateMultipartUpload",
                method: .POST,
                key: key,
                query: [("uploads", "")],
                headers: createHeaders
            ),
            snapshot
        )
        try created.requireSuccess("CreateMultipartUpload")
        guard let uploadID = S3XML(created.body).text(of: "UploadId"), !uploadID.isEmpty else {
            throw ObjectStorageError(code: .invalidResponse, "CreateMultipartUpload: the answer has no UploadId")
        }
        do {
            return try await uploadParts(file, key: key, uploadID: uploadID, sha256: sha256, snapshot)
        } catch {
            await abort(key: key, uploadID: uploadID, snapshot)
            throw error
        }
    }

    private func uploadParts(
        _ file: ReadOnlyFile,
        key: String,
        uploadID: String,
        sha256: SHA256Checksum,
        _ snapshot: Snapshot
    ) async throws(ObjectStorageError) -> StoredObject {
        let configuration = snapshot.configuration
        let partSize = Self.partSize(fileSize: file.size, partBytes: configuration.partBytes)
        var whole: SHA256? = SHA256()
        var parts: [(number: Int, etag: String, checksum: SHA256Checksum)] = []
        var offset: Int64 = 0
        while offset < file.size {
            let number = parts.count + 1
            let length = min(partSize, file.size - offset)
            // The part's checksum goes in a header, before its bytes: read the part once to hash
            // it (the page cache keeps it for the second read), then send it.
            let checksum = try await file.sha256(offset: offset, length: length, chunkBytes: Self.chunkBytes, whole: &whole)
            let response = try await send(
                S3Request(
                    operation: "UploadPart",
                    method: .PUT,
                    key: key,
                    query: [("partNumber", String(number)), ("uploadId", uploadID)],
                    headers: [("x-amz-checksum-sha256", checksum.base64), ("x-amz-sdk-checksum-algorithm", "SHA256")],
                    body: .file(
                        FileSlice(file: file, offset: offset, length: length, chunkBytes: Self.chunkBytes, expected: checksum)
                    ),
                    payloadHash: checksum.hex
                ),
                snapshot
            )
            try response.requireSuccess("UploadPart")
            guard let etag = response.headers.first(name: "etag") else {
                throw ObjectStorageError(code: .invalidResponse, "UploadPart: the answer for part \(number) has no ETag")
            }
            parts.append((number, etag, checksum))
            offset += length
        }
        guard let whole, SHA256Checksum(bytes: Array(whole.finalize())) == sha256 else {
            throw ObjectStorageError(
                code: .checksumMismatch,
                "\(file.path) no longer has the SHA-256 \(sha256.hex) it had when it was downloaded"
            )
        }
        var document = #"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
        for part in parts {
            document += "<Part><ChecksumSHA256>\(part.checksum.base64)</ChecksumSHA256>"
                + "<ETag>\(S3XML.escape(part.etag))</ETag><PartNumber>\(part.number)</PartNumber></Part>"
        }
        document += "</CompleteMultipartUpload>"
        let body = Array(document.utf8)
        let response = try await send(
            S3Request(
                operation: "CompleteMultipartUpload",
                method: .POST,
                key: key,
                query: [("uploadId", uploadID)],
                headers: [("content-type", "application/xml"), ("x-amz-checksum-type", "COMPOSITE")],
                body: .bytes(body),
                payloadHash: SHA256Checksum(bytes: Array(SHA256.hash(data: body)))!.hex
            ),
            snapshot
        )
        try response.requireSuccess("CompleteMultipartUpload")
        // S3 may answer 200 and still fail: the error is in the body.
        let result = S3XML(response.body)
        if result.rootIs("Error") {
            throw ObjectStorageError.response(
                operation: "CompleteMultipartUpload",
                status: response.status,
                body: snapshot.scrubber.scrub(response.body)
            )
        }
        let composite = Self.compositeChecksum(parts.map(\.checksum))
        let reported = result.text(of: "ChecksumSHA256")
        if let reported, reported != composite {
            throw ObjectStorageError(
                code: .checksumMismatch,
                "CompleteMultipartUpload: the storage reports the checksum \(reported), not \(composite)"
            )
        }
        return StoredObject(
            bucket: configuration.bucket,
            key: key,
            uri: "s3://" + configuration.bucket + "/" + key,
            bytes: file.size,
            etag: result.text(of: "ETag"),
            checksumSHA256: composite,
            parts: parts.count
        )
    }

    /// S3's composite checksum of a multipart object: base64 SHA-256 of the concatenated part
    /// digests, then `-` and the number of parts.
    public static func compositeChecksum(_ parts: [SHA256Checksum]) -> String {
        let digest = SHA256.hash(data: parts.flatMap(\.bytes))
        return SHA256Checksum(bytes: Array(digest))!.base64 + "-" + String(parts.count)
    }

    /// Aborts a multipart upload so that its parts stop costing storage. Runs to the end even when
    /// the caller is cancelled; a failure is logged, since the upload's own error is what is thrown.
    private func abort(key: String, uploadID: String, _ snapshot: Snapshot) async {
        let request = S3Request(operation: "AbortMultipartUpload", method: .DELETE, key: key, query: [("uploadId", uploadID)])
        let outcome = await Task { () async -> ObjectStorageError? in
            do throws(ObjectStorageError) {
                let response = try await send(request, snapshot)
                if response.status == 404 { return nil }
                try response.requireSuccess("AbortMultipartUpload")
                return nil
            } catch {
                return error
            }
        }.value
        if let outcome {
            logger.warning(
                "Could not abort a multipart upload; its parts stay until a lifecycle rule removes them",
                metadata: ["s3.key": "\(key)", "error": "\(outcome)"]
            )
        }
    }

    private static func encryptionHeaders(_ encryption: S3Configuration.ServerSideEncryption?) -> [(name: String, value: String)] {
        switch encryption {
        case nil: []
        case .aes256: [("x-amz-server-side-encryption", "AES256")]
        case .kms(nil): [("x-amz-server-side-encryption", "aws:kms")]
        case .kms(let keyID?):
            [("x-amz-server-side-encryption", "aws:kms"), ("x-amz-server-side-encryption-aws-kms-key-id", keyID)]
        }
    }

    // MARK: - One request

    struct S3Request: Sendable {
        enum Body: Sendable {
            case none
            case bytes([UInt8])
            case file(FileSlice)

            var count: Int64 {
                switch self {
                case .none: 0
                case .bytes(let bytes): Int64(bytes.count)
                case .file(let slice): slice.length
                }
            }
        }

        var operation: String
        var method: HTTPMethod
        var key: String?
        var query: [(name: String, value: String)] = []
        var headers: [(name: String, value: String)] = []
        var body: Body = .none
        var payloadHash = SigV4Signer.emptyPayloadHash
    }

    struct S3Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var scrubber: SecretScrubber

        var serviceCode: String? { S3XML(body).text(of: "Code") }

        func requireSuccess(_ operation: String) throws(ObjectStorageError) {
            guard (200..<300).contains(status) else {
                throw ObjectStorageError.response(operation: operation, status: status, body: scrubber.scrub(body))
            }
        }
    }

    /// Signs and sends `request` with a deadline covering the whole exchange (one more second per
    /// MiB of body), and reads at most ``maximumResponseBytes`` of the answer.
    private func send(_ request: S3Request, _ snapshot: Snapshot) async throws(ObjectStorageError) -> S3Response {
        let (configuration, signer, scrubber) = (snapshot.configuration, snapshot.signer, snapshot.scrubber)
        if let key = request.key, key.isEmpty || key.utf8.count > S3KeyTemplate.maximumKeyBytes {
            throw ObjectStorageError(
                code: .invalidArgument,
                "\(request.operation): a key has 1 to \(S3KeyTemplate.maximumKeyBytes) bytes (got \(key.utf8.count))"
            )
        }
        let path = configuration.encodedPath(key: request.key)
        let host = configuration.bucketHost
        let signable = SigV4Signer.Request(
            method: request.method.rawValue,
            encodedPath: path,
            query: request.query,
            headers: [("host", host)] + request.headers
        )
        let authorization = signer.signedHeaders(for: signable, payloadHash: request.payloadHash, at: timeSource.now())
        var url = configuration.origin + path
        if !request.query.isEmpty {
            url += "?" + request.query.map { SigV4Signer.encode($0.name) + "=" + SigV4Signer.encode($0.value) }
                .joined(separator: "&")
        }
        var httpRequest = HTTPClientRequest(url: url)
        httpRequest.method = request.method
        for (name, value) in signable.headers + authorization { httpRequest.headers.add(name: name, value: value) }
        switch request.body {
        case .none: break
        case .bytes(let bytes): httpRequest.body = .bytes(ByteBuffer(bytes: bytes))
        case .file(let slice): httpRequest.body = .stream(slice, length: .known(slice.length))
        }
        let bodyAllowance = Duration.seconds(request.body.count / (1024 * 1024))
        let timeout = configuration.requestTimeout + bodyAllowance
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout.wholeMilliseconds) * 1_000_000)
        var logger = self.logger
        logger[metadataKey: "s3.operation"] = "\(request.operation)"
        if let key = request.key { logger[metadataKey: "s3.key"] = "\(key)" }
        do {
            let response = try await client.execute(httpRequest, deadline: deadline, logger: logger)
            let body = try await Self.collect(response.body, upTo: Self.maximumResponseBytes, deadline: deadline)
            logger.debug("S3 answered", metadata: ["http.status": "\(response.status.code)"])
            return S3Response(status: Int(response.status.code), headers: response.headers, body: body, scrubber: scrubber)
        } catch let error as ObjectStorageError {
            throw error
        } catch {
            let translated = Self.translate(error, operation: request.operation, scrubber: scrubber)
            logger.debug("S3 request failed", metadata: ["error": "\(translated)"])
            throw translated
        }
    }

    /// Reads at most `limit` bytes (the rest is dropped and the connection closed) before `deadline`.
    private static func collect(_ body: HTTPClientResponse.Body, upTo limit: Int, deadline: NIODeadline) async throws -> [UInt8] {
        try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask {
                var bytes: [UInt8] = []
                for try await chunk in body {
                    bytes.append(contentsOf: chunk.readableBytesView.prefix(limit - bytes.count))
                    if bytes.count >= limit { break }
                }
                return bytes
            }
            group.addTask {
                let remaining = deadline - NIODeadline.now()
                try await Task.sleep(for: .nanoseconds(max(remaining.nanoseconds, 0)))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else { throw HTTPClientError.deadlineExceeded }
            return first
        }
    }

    private static func translate(_ error: any Error, operation: String, scrubber: SecretScrubber) -> ObjectStorageError {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .getConnectionFromPoolTimeout:
                return ObjectStorageError(code: .timedOut, "\(operation): no answer before the deadline")
            case .remoteConnectionClosed:
                return ObjectStorageError(code: .transport, "\(operation): the server closed the connection")
            case .cancelled:
                return ObjectStorageError(code: .transport, "\(operation): cancelled")
            default:
                return ObjectStorageError(code: .transport, "\(operation): \(scrubber.scrub("\(error)"))")
            }
        }
        if error is CancellationError {
            return ObjectStorageError(code: .transport, "\(operation): cancelled")
        }
        if let error = error as? NIOConnectionError {
            let refused = error.connectionErrors.contains { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
            return ObjectStorageError(code: .transport, "\(operation): " + (refused ? "connection refused" : "cannot connect"))
        }
        return ObjectStorageError(code: .transport, "\(operation): \(scrubber.scrub("\(error)"))")
    }
}
