/// A stored video as object storage holds it, confirmed to have the bytes and checksum that were
/// downloaded: what the completed webhook's `video` gains (`object`, `object_url`,
/// `object_url_expires_at`).
public struct UploadedVideo: Sendable, Hashable {
    /// `s3://bucket/key`.
    public var object: String
    /// A presigned `GET` for the object. It stops working at ``urlExpiresAt``; a redelivered
    /// webhook carries the same link, so a late receiver may find it expired.
    public var url: String
    public var urlExpiresAt: Timestamp

    public init(object: String, url: String, urlExpiresAt: Timestamp) {
        self.object = object
        self.url = url
        self.urlExpiresAt = urlExpiresAt
    }
}
