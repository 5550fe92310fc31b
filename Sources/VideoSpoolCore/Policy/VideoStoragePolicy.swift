/// Whether completed generations' videos are stored (`results.*`), and whether the webhook waits.
public struct VideoStoragePolicy: Sendable, Hashable {
    /// `results.download`.
    public var download: Bool
    /// `results.announce_after_download`: the completed event waits for the stored file.
    public var announceAfterDownload: Bool
    /// Backoff and `results.deadline_seconds`.
    public var retry: VideoDownloadRetry

    public init(download: Bool = false, announceAfterDownload: Bool = true, retry: VideoDownloadRetry = VideoDownloadRetry()) {
        self.download = download
        self.announceAfterDownload = announceAfterDownload
        self.retry = retry
    }

    /// Completed jobs pass through `storing` before they are announced.
    public var holdsAnnouncement: Bool { download && announceAfterDownload }

    /// Stored after the announcement, as a convenience that a restart does not resume.
    public var storesAfterAnnouncement: Bool { download && !announceAfterDownload }
}
