public import VideoSpoolCore
public import VideoSpoolFileSystem
import VideoSpoolRuntime
import VideoSpoolStore

/// `videospool submit` and `validate`: checks requests with the daemon's rules and settings, and
/// publishes them into the spool the way a well-behaved writer does.
public struct RequestSubmitter: Sendable {
    public let settings: DaemonSettings
    public let spool: LocalSpoolDirectory

    public init(settings: DaemonSettings) {
        self.settings = settings
        self.spool = LocalSpoolDirectory(root: settings.spoolDirectory)
    }

    /// What the daemon would say about `bytes`, with a `job_id` assigned by the daemon's generator.
    public func prepare(_ bytes: [UInt8]) -> PreparedRequest.Outcome {
        let ids = IdentifierSource()
        return PreparedRequest.prepare(
            bytes,
            validator: settings.requestValidator,
            maximumBytes: settings.maximumRequestBytes,
            newID: { ids.jobID(at: SystemTimeSource().now()) }
        )
    }

    /// A rejection if the daemon already knows `jobID` (it would reject the file as a duplicate, and
    /// `--wait` would mistake the earlier job's outcome for this one's). The store is consulted only
    /// if this user may read it; the outcome files are checked either way.
    public func duplicate(_ jobID: JobID) async -> RejectedRequest? {
        let name = jobID.rawValue + ".json"
        var known = spool.outcome(for: jobID) != nil || spool.incomingContains(name)
        if !known, let store = try? SQLiteJobStore(directory: settings.stateDirectory, readOnly: true) {
            known = (try? await store.containsJob(jobID)) ?? false
        }
        guard known else { return nil }
        let issue = ValidationIssue(
            field: "job_id",
            code: .duplicateJobID,
            message: "job_id '\(jobID)' is already known; a request is never submitted twice"
        )
        return RejectedRequest(issues: [issue], requestedJobID: jobID)
    }

    /// Writes the request to `incoming/<job_id>.json` (temporary name, fsync, rename, fsync).
    ///
    /// - Returns: the `rejected/` reports already there for this id, for ``JobFollower``.
    /// - Throws: ``SpoolFileSystemError``; `EEXIST` if another writer took the name first.
    public func publish(_ request: PreparedRequest) throws -> Set<String> {
        let earlier = spool.rejectionReports(for: request.jobID)
        try spool.publish(request.bytes, as: request.jobID.rawValue + ".json")
        return earlier
    }

    /// The path the request was published at.
    public func incomingPath(for jobID: JobID) -> String {
        spool.incoming + "/" + jobID.rawValue + ".json"
    }

    public var follower: JobFollower {
        JobFollower(spool: spool, stateDirectory: settings.stateDirectory)
    }
}
