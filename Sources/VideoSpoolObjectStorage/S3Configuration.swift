/// Where and how results are stored in S3-compatible object storage (`results.s3.*`).
///
/// Credentials are separate (``SigV4Credentials``) so that this value can be printed.
public struct S3Configuration: Sendable {
    /// How the bucket appears in a request's URL.
    public enum AddressingStyle: String, Sendable, CaseIterable {
        /// `https://bucket.endpoint/key`: AWS's default; R2 and B2 accept it too.
        case virtual
        /// `https://endpoint/bucket/key`: MinIO's default; needed for bucket names with dots over TLS.
        case path
    }

    /// `x-amz-server-side-encryption`.
    public enum ServerSideEncryption: Sendable, Equatable {
        /// `AES256`: keys managed by the storage (SSE-S3).
        case aes256
        /// `aws:kms`, with a KMS key id or ARN, or the account's default key when nil.
        case kms(keyID: String?)
    }

    /// `scheme://host[:port]` without a path, e.g. `https://s3.eu-central-1.amazonaws.com`.
    public var endpoint: S3Endpoint
    public var region: String
    public var bucket: String
    public var keyPrefix: S3KeyTemplate
    public var addressingStyle: AddressingStyle
    public var serverSideEncryption: ServerSideEncryption?
    /// How long a presigned GET URL is valid: 1 to 604800 seconds (7 days).
    public var presignSeconds: Int
    /// Files larger than this are uploaded in parts of this size (S3 allows 5 MiB to 5 GiB, and at
    /// most 10,000 parts; a larger part is used when a file would need more).
    public var partBytes: Int
    /// Whether retention also deletes the stored object.
    public var deleteOnPrune: Bool
    /// Deadline of a request without a body; a request that sends a body gets one more second per
    /// MiB (it assumes at least 1 MiB/s).
    public var requestTimeout: Duration

    public static let defaultPresignSeconds = 86_400
    public static let minimumPartBytes = 5 * 1024 * 1024
    public static let maximumPartBytes = 5 * 1024 * 1024 * 1024
    public static let defaultPartBytes = 64 * 1024 * 1024
    public static let maximumParts = 10_000
    public static let defaultKeyPrefix = "videospool/{date}/"

    public init(
        endpoint: S3Endpoint,
        region: String = "us-east-1",
        bucket: String,
        keyPrefix: S3KeyTemplate,
        addressingStyle: AddressingStyle = .virtual,
        serverSideEncryption: ServerSideEncryption? = nil,
        presignSeconds: Int = S3Configuration.defaultPresignSeconds,
        partBytes: Int = S3Configuration.defaultPartBytes,
        deleteOnPrune: Bool = false,
        requestTimeout: Duration = .seconds(30)
    ) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.keyPrefix = keyPrefix
        self.addressingStyle = addressingStyle
        self.serverSideEncryption = serverSideEncryption
        self.presignSeconds = presignSeconds
        self.partBytes = partBytes
        self.deleteOnPrune = deleteOnPrune
        self.requestTimeout = requestTimeout
    }

    /// The host header and the path prefix for this bucket.
    package var bucketHost: String {
        addressingStyle == .virtual ? bucket + "." + endpoint.hostHeader : endpoint.hostHeader
    }

    /// The request's path (as sent and signed) for `key`, or for the bucket when `key` is nil.
    package func encodedPath(key: String?) -> String {
        let keyPath = key.map { "/" + SigV4Signer.encodePath($0) } ?? "/"
        switch addressingStyle {
        case .virtual: return keyPath
        case .path: return "/" + SigV4Signer.encode(bucket) + (key == nil ? "" : keyPath)
        }
    }

    /// `scheme://host[:port]` for this bucket's requests.
    package var origin: String { endpoint.scheme + "://" + bucketHost }
}

/// An endpoint's parts: `http` or `https`, the host (IPv6 in brackets) and an explicit port.
public struct S3Endpoint: Sendable, Equatable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int?

    /// Parses `scheme://host[:port]` (a trailing `/` is allowed; nothing else after the host).
    ///
    /// - Throws: ``ObjectStorageError`` (`invalidArgument`) naming what is wrong.
    public init(parsing text: String) throws(ObjectStorageError) {
        let lowered = text.lowercased()
        let scheme: String
        if lowered.hasPrefix("https://") {
            scheme = "https"
        } else if lowered.hasPrefix("http://") {
            scheme = "http"
        } else {
            throw ObjectStorageError(code: .invalidArgument, "'\(text)' must start with https:// or http://")
        }
        var authority = Substring(lowered.dropFirst(scheme.count + 3))
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.isEmpty,
            !authority.contains(where: { "/?#@ \\".contains($0) || $0.asciiValue.map { $0 < 0x20 } ?? true })
        else {
            throw ObjectStorageError(
                code: .invalidArgument,
                "'\(text)' must be scheme://host[:port], without a path, a query, user information or non-ASCII characters"
            )
        }
        var host = authority
        var port: Int?
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            host = authority[..<colon]
            guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else {
                throw ObjectStorageError(code: .invalidArgument, "'\(text)' has an invalid port")
            }
            port = number
        }
        guard !host.isEmpty else { throw ObjectStorageError(code: .invalidArgument, "'\(text)' has no host") }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
    }

    /// The `Host` header: the port only when it is not the scheme's default.
    public var hostHeader: String {
        guard let port, port != (scheme == "https" ? 443 : 80) else { return host }
        return host + ":" + String(port)
    }

    public var description: String { scheme + "://" + hostHeader }
}
