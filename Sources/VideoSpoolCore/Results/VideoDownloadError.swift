/// Why a video could not be stored, and whether trying again can help.
///
/// `message` is written for people and for the completed webhook's `video.download_error`: it names
/// the problem and never contains the link's query string (only scheme, host and path).
public struct VideoDownloadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable, snake_case codes for logs and metrics.
    public struct Code: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
        public let description: String

        public init(stringLiteral value: String) {
            self.description = value
        }

        /// The link is not an http(s) URL the downloader may fetch (malformed, user info, http
        /// where https is required).
        public static let invalidURL: Code = "invalid_url"
        /// A redirect pointed somewhere it may not go (another scheme, http where https is
        /// required, an unparsable `Location`), or there were too many.
        public static let redirectRefused: Code = "redirect_refused"
        /// The host is, or resolves to, an address the address policy refuses.
        public static let addressRefused: Code = "address_refused"
        /// 404 or 410: the video is gone (or the link expired, as some CDNs say it).
        public static let notFound: Code = "not_found"
        /// 401 or 403: the link is no longer accepted (a signed link past its expiry).
        public static let forbidden: Code = "forbidden"
        /// Another status the downloader cannot use (a 5xx or 429 is transient, other 4xx permanent).
        public static let httpStatus: Code = "http_status"
        /// The video is larger than the size cap (announced or counted).
        public static let tooLarge: Code = "too_large"
        /// The body ended before its announced length, or the server's framing was inconsistent.
        public static let truncated: Code = "truncated"
        /// No byte arrived for the stall timeout.
        public static let stalled: Code = "stalled"
        /// The download did not finish within its deadline.
        public static let timedOut: Code = "timed_out"
        /// The host could not be resolved or connected to, or the connection failed.
        public static let connectionFailed: Code = "connection_failed"
        /// The results directory is full (ENOSPC, EDQUOT): downloads wait until there is room.
        public static let diskFull: Code = "disk_full"
        /// The file could not be written, synced or renamed for another reason.
        public static let storageFailed: Code = "storage_failed"
        /// The download was canceled (the daemon is stopping); the part file is kept.
        public static let canceled: Code = "canceled"
        /// Object storage (`results.s3`) refused or failed the upload, or holds other bytes than
        /// were sent; the message says which, and `isTransient` whether trying again can help.
        public static let uploadFailed: Code = "upload_failed"
    }

    public var code: Code
    /// Whether a later attempt can succeed (a part file, if any, is kept for it).
    public var isTransient: Bool
    public var message: String
    /// The HTTP status that caused it, if any.
    public var statusCode: Int?
    /// The server's `Retry-After`, if it sent one.
    public var retryAfter: RetryAfter?

    public init(code: Code, isTransient: Bool, message: String, statusCode: Int? = nil, retryAfter: RetryAfter? = nil) {
        self.code = code
        self.isTransient = isTransient
        self.message = message
        self.statusCode = statusCode
        self.retryAfter = retryAfter
    }

    public static func transient(_ code: Code, _ message: String, statusCode: Int? = nil, retryAfter: RetryAfter? = nil)
        -> VideoDownloadError
    {
        VideoDownloadError(code: code, isTransient: true, message: message, statusCode: statusCode, retryAfter: retryAfter)
    }

    public static func permanent(_ code: Code, _ message: String, statusCode: Int? = nil) -> VideoDownloadError {
        VideoDownloadError(code: code, isTransient: false, message: message, statusCode: statusCode)
    }

    /// The classification of an HTTP status that is neither a success nor a redirect: 404, 410,
    /// 401 and 403 are permanent (the link is dead or expired), 408, 425, 429 and 5xx transient,
    /// any other status permanent.
    public static func forStatus(_ status: Int, retryAfter: RetryAfter? = nil) -> VideoDownloadError {
        let text = "the video server answered \(status)"
        switch status {
        case 404, 410: return .permanent(.notFound, text + " (the video is gone or its link expired)", statusCode: status)
        case 401, 403: return .permanent(.forbidden, text + " (the link is not accepted, or has expired)", statusCode: status)
        case 408, 425, 429, 500...599: return .transient(.httpStatus, text, statusCode: status, retryAfter: retryAfter)
        default: return .permanent(.httpStatus, text, statusCode: status)
        }
    }

    public var description: String {
        "\(code) (\(isTransient ? "transient" : "permanent")): \(message)"
    }
}
