/// The stored videos in `results.directory`, as retention sees them.
public protocol StoredVideoFiles: Sendable {
    /// Deletes a job's stored video (`<job_id>.<ext>`) and any part file a download left. Deleting
    /// what is not there is not an error.
    func removeStoredVideo(jobID: JobID) async throws
}
