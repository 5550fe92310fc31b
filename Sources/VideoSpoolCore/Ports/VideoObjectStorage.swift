/// Object storage for stored videos (`results.s3`): the daemon uploads each stored video after it
/// was verified, and retention may delete the objects again.
///
/// Failures are ``VideoDownloadError``s (code `upload_failed`) that say whether a later attempt can
/// help: the caller owns the retry schedule, as it does for downloads. No error message holds a
/// credential or a signature.
public protocol VideoObjectStorage: Sendable {
    /// Uploads the stored file of `video` (with its SHA-256 as the checksum the storage verifies),
    /// confirms that the object holds it (size and checksum, by `HEAD`), and presigns a `GET` for it.
    ///
    /// Uploading the same job again writes the same key (its `{date}` comes from `date`, the
    /// generation's end), so an upload redone after a crash replaces the object rather than adding one.
    func upload(_ video: StoredVideo, jobID: JobID, date: Timestamp) async throws(VideoDownloadError) -> UploadedVideo

    /// Whether retention deletes the objects of the jobs it prunes (`results.s3.delete_on_prune`).
    var deletesOnPrune: Bool { get }

    /// Deletes the object `uri` (`s3://bucket/key`, as announced). Deleting an object that is not
    /// there succeeds; an object in another bucket than the one configured is left alone.
    func removeObject(_ uri: String) async throws(VideoDownloadError)
}
