public import VideoSpoolCore

/// The downloader of a pipeline built without one (`results.download: false`, tests): should a
/// job reach `storing` anyway (a store written with downloads on), it is announced with the
/// upstream URL and a `download_error` saying why, instead of waiting forever.
public struct UnavailableVideoDownloader: VideoDownloader {
    public init() {}

    public func download(_ request: VideoDownloadRequest) async throws(VideoDownloadError) -> StoredVideo {
        throw .permanent(.storageFailed, "videos are not stored by this daemon (results.download is off)")
    }
}
