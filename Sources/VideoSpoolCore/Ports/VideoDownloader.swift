/// Stores a generation's video from the link the API handed out.
///
/// Implementations stream the body to `<directory>/.<job_id>.part`, hash and count it on the way,
/// and only when it is complete fsync it, rename it to `<job_id>.<ext>` and fsync the directory, so
/// a crash leaves at most the part file, which the next call resumes (with `Range` where the server
/// allows it). They never hold the whole file in memory, enforce a size cap, a deadline and a stall
/// timeout, follow redirects themselves under the webhooks' address policy, and never log or report
/// the link's query string (signed links carry their token there).
///
/// Retrying is the caller's: a ``VideoDownloadError`` says whether trying again can help
/// (``VideoDownloadRetry`` is the policy for how long to keep at it).
public protocol VideoDownloader: Sendable {
    /// Downloads `request.url` into `request.directory`, resuming a part file left by an earlier call.
    /// - Returns: The stored file, complete and durable.
    /// - Throws: ``VideoDownloadError``; after a transient one the part file is kept for the next call.
    func download(_ request: VideoDownloadRequest) async throws(VideoDownloadError) -> StoredVideo
}

/// One video to store.
public struct VideoDownloadRequest: Sendable, Hashable {
    /// The link from the API's `video.url` (may carry a signed token in its query).
    public var url: String
    /// Names the files: `<job_id>.<ext>` and, while it is written, `.<job_id>.part`.
    public var jobID: JobID
    /// `results.directory`; it must exist.
    public var directory: String

    public init(url: String, jobID: JobID, directory: String) {
        self.url = url
        self.jobID = jobID
        self.directory = directory
    }
}
