/// Why an object storage operation failed, and whether trying again later can help.
///
/// Transport facts (timeout, refused connection, status, S3's `<Code>`) are translated here; the
/// caller decides what a retryable failure means for the job. The description never holds a
/// secret, a signature or a response body beyond S3's short error message.
public struct ObjectStorageError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case transport, timedOut, serverError, throttled, rejected, redirected, invalidResponse
            case localFile, checksumMismatch, invalidArgument
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The connection failed (refused, reset, DNS); retryable.
        public static let transport = Code(.transport)
        /// The request's deadline passed; retryable.
        public static let timedOut = Code(.timedOut)
        /// 5xx, or S3's `InternalError`; retryable.
        public static let serverError = Code(.serverError)
        /// 429, 503 `SlowDown`; retryable.
        public static let throttled = Code(.throttled)
        /// 4xx: bad signature, denied, no such bucket…; permanent unless S3's code says otherwise.
        public static let rejected = Code(.rejected)
        /// 3xx: wrong region or endpoint (S3's `PermanentRedirect` names the right one); permanent.
        public static let redirected = Code(.redirected)
        /// An answer that is not what S3 sends; retryable.
        public static let invalidResponse = Code(.invalidResponse)
        /// The local file cannot be read; permanent.
        public static let localFile = Code(.localFile)
        /// The file's content is not the content the caller hashed, or S3 reports another checksum; permanent.
        public static let checksumMismatch = Code(.checksumMismatch)
        /// A programming or configuration error (an expiry over 7 days, an invalid key…); permanent.
        public static let invalidArgument = Code(.invalidArgument)

        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String
    /// Whether the same operation may succeed later.
    public let isRetryable: Bool
    /// The HTTP status, when the server answered.
    public let status: Int?
    /// S3's error `<Code>` (`SignatureDoesNotMatch`, `NoSuchBucket`…), when it sent one.
    public let serviceCode: String?

    public init(code: Code, _ message: String, isRetryable: Bool? = nil, status: Int? = nil, serviceCode: String? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.serviceCode = serviceCode
        self.isRetryable = isRetryable ?? [.transport, .timedOut, .serverError, .throttled, .invalidResponse].contains(code)
    }

    public var description: String {
        var text = "\(code)"
        if let status { text += " (HTTP \(status)" + (serviceCode.map { " \($0)" } ?? "") + ")" }
        return text + ": " + message
    }

    /// Equality compares codes only, as `VideoSpoolError` does.
    public static func == (lhs: ObjectStorageError, rhs: ObjectStorageError) -> Bool { lhs.code == rhs.code }
}

extension ObjectStorageError {
    /// S3's error codes that a later attempt can get past, whatever their status.
    private static let retryableServiceCodes: Set<String> = [
        "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "RequestTimeTooSkewed",
        "OperationAborted", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
    ]

    /// Translates an error answer: the status and S3's XML `<Error>` body (`Code`, `Message`, and
    /// `Endpoint` for a redirect).
    static func response(operation: String, status: Int, body: [UInt8]) -> ObjectStorageError {
        let document = S3XML(body)
        let serviceCode = document.text(of: "Code")
        var message = document.text(of: "Message") ?? "HTTP \(status) without an S3 error message"
        if let endpoint = document.text(of: "Endpoint") { message += " (use the endpoint \(endpoint))" }
        message = "\(operation): " + String(message.prefix(500))
        let retryableCode = serviceCode.map { retryableServiceCodes.contains($0) } ?? false
        switch status {
        case 200..<300:
            // An error in the body of a success (CompleteMultipartUpload): S3's code tells which kind.
            return ObjectStorageError(
                code: retryableCode ? .serverError : .rejected,
                message,
                isRetryable: retryableCode,
                status: status,
                serviceCode: serviceCode
            )
        case 300..<400:
            return ObjectStorageError(code: .redirected, message, isRetryable: false, status: status, serviceCode: serviceCode)
        case 429, 503:
            return ObjectStorageError(code: .throttled, message, status: status, serviceCode: serviceCode)
        case 500..<600:
            return ObjectStorageError(code: .serverError, message, status: status, serviceCode: serviceCode)
        default:
            return ObjectStorageError(
                code: .rejected,
                message,
                isRetryable: retryableCode || status == 408,
                status: status,
                serviceCode: serviceCode
            )
        }
    }
}
