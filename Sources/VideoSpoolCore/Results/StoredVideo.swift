/// A video stored in full: what the completed webhook's `video` gains (`file`, `bytes`, `sha256`,
/// `content_type`).
public struct StoredVideo: Sendable, Hashable {
    /// Absolute path of `<job_id>.<ext>`.
    public var path: String
    public var bytes: Int64
    /// SHA-256 of the whole file, lowercase hex.
    public var sha256: String
    /// The server's `Content-Type` without parameters, lowercased; `video/mp4` when it sent none.
    public var contentType: String

    public init(path: String, bytes: Int64, sha256: String, contentType: String) {
        self.path = path
        self.bytes = bytes
        self.sha256 = sha256
        self.contentType = contentType
    }

    /// The file name extension for a `Content-Type` (parameters and case ignored): `mp4`, `webm`
    /// or `mov`, and `mp4` for anything else (the API's videos are MP4; a CDN that answers
    /// `application/octet-stream` should not turn them into `.bin`).
    public static func fileExtension(forContentType contentType: String?) -> String {
        switch mediaType(contentType) {
        case "video/webm": "webm"
        case "video/quicktime": "mov"
        default: "mp4"
        }
    }

    /// `type/subtype` of a `Content-Type`, lowercased, without parameters; `video/mp4` when absent.
    public static func mediaType(_ contentType: String?) -> String {
        let type = (contentType ?? "").split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        let trimmed = type.trimmingWhitespace.lowercased()
        return trimmed.isEmpty ? "video/mp4" : trimmed
    }
}
