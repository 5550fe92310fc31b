/// Whether completed generations' videos are stored (`results.*`), and whether the webhook waits.
public struct VideoStoragePolicy: Sendable, Hashable {
    /// `results.download`.
    public var download: Bool
    /// `results.announce_after_download`: the completed event waits for the stored file.
    public var announceAfterDownload: Bool
    /// Backoff and `results.deadline_seconds` (for the download and the upload together).
    public var retry: VideoDownloadRetry
    /// `results.keep_local`: with object storage, whether the local copy stays after its upload.
    public var keepLocal: Bool

    public init(
        download: Bool = false,
        announceAfterDownload: Bool = true,
        retry: VideoDownloadRetry = VideoDownloadRetry(),
        keepLocal: Bool = true
    ) {
        self.download = download
        self.announceAfterDownload = announceAfterDownload
        self.retry = retry
        self.keepLocal = keepLocal
    }

    /// How an upload attempt ends for the job: an upload confirmed by the storage keeps the local
    /// copy only with `results.keep_local`; a failed one always keeps it (it is then the only copy).
    public func upload(_ result: Result<UploadedVideo, VideoDownloadError>) -> VideoUpload {
        switch result {
        case .success(let uploaded): .uploaded(uploaded, localCopyKept: keepLocal)
        case .failure(let error): .failed(error)
        }
    }

    /// Completed jobs pass through `storing` before they are announced.
    public var holdsAnnouncement: Bool { download && announceAfterDownload }

    /// Stored after the announcement, as a convenience that a restart does not resume.
    public var storesAfterAnnouncement: Bool { download && !announceAfterDownload }
}
