/// How storing a completed job's video ended, for its webhook's `video` object.
public enum VideoStorageOutcome: Sendable, Hashable {
    /// Stored: `video` gains `file`, `bytes`, `sha256` and `content_type`.
    case stored(StoredVideo)
    /// Given up (a permanent error, or the deadline): `video` keeps the upstream `url` and gains
    /// `download_error`.
    case failed(VideoDownloadError)
}
