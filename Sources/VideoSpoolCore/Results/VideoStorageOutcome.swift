/// How storing a completed job's video ended, for its webhook's `video` object.
public enum VideoStorageOutcome: Sendable, Hashable {
    /// Stored: `video` gains `file`, `bytes`, `sha256` and `content_type`; with object storage
    /// (`results.s3`), `upload` says how the upload ended.
    case stored(StoredVideo, upload: VideoUpload? = nil)
    /// Given up (a permanent error, or the deadline): `video` keeps the upstream `url` and gains
    /// `download_error`.
    case failed(VideoDownloadError)
}

/// How uploading a stored video to object storage ended.
public enum VideoUpload: Sendable, Hashable {
    /// Uploaded and confirmed: `video` gains `object` and `object_url`, and loses `file` when the
    /// local copy is removed (`results.keep_local: false`).
    case uploaded(UploadedVideo, localCopyKept: Bool)
    /// Given up (a permanent error, or the deadline): the local copy stays and `video` gains
    /// `upload_error`.
    case failed(VideoDownloadError)
}
