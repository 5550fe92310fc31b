import VideoSpoolCore

/// Counts, times and sizes every attempt to store a video.
struct MeteredVideoDownloader: VideoDownloader {
    let downloader: any VideoDownloader
    let metrics: PipelineMetrics

    func download(_ request: VideoDownloadRequest) async throws(VideoDownloadError) -> StoredVideo {
        let started = ContinuousClock.now
        do {
            let video = try await downloader.download(request)
            metrics.videoDownload(.success(video), latency: .now - started)
            return video
        } catch {
            metrics.videoDownload(.failure(error), latency: .now - started)
            throw error
        }
    }
}
