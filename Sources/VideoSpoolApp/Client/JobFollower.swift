public import VideoSpoolCore
public import VideoSpoolFileSystem
import VideoSpoolStore

/// Follows one submitted job from outside the daemon until its outcome file appears.
///
/// The spool's outcome files are the authority (they are what the daemon promises callers); the
/// job store is read, read-only and best-effort, only to show which phase the job is in. A caller
/// without access to the state directory still gets the outcome, just no phase.
public struct JobFollower: Sendable {
    public struct Progress: Sendable {
        public let elapsed: Duration
        /// `nil` until the daemon has accepted the file (or when the store cannot be read).
        public let phase: JobPhase?
    }

    public enum Result: Sendable {
        case finished(SpoolOutcome)
        case timedOut(lastPhase: JobPhase?)
    }

    public let spool: LocalSpoolDirectory
    public let stateDirectory: String
    /// How often the outcome directories are looked at: a stat or two, so short is cheap.
    public var checkInterval: Duration = .milliseconds(200)
    /// How often the store is asked for the phase.
    public var phaseInterval: Duration = .seconds(1)

    public init(spool: LocalSpoolDirectory, stateDirectory: String) {
        self.spool = spool
        self.stateDirectory = stateDirectory
    }

    /// Waits for `jobID`'s outcome, reporting progress after every check.
    ///
    /// - Parameters:
    ///   - ignoringRejections: `rejected/` reports that existed before the request was published.
    ///   - timeout: give up after this long (`nil`: wait for ever, or until cancelled).
    public func follow(
        _ jobID: JobID,
        ignoringRejections: Set<String>,
        timeout: Duration?,
        progress: (Progress) -> Void
    ) async throws -> Result {
        let clock = ContinuousClock()
        let start = clock.now
        var store: SQLiteJobStore?
        var phase: JobPhase?
        var nextPhaseCheck = start
        while true {
            if let outcome = spool.outcome(for: jobID, ignoringRejections: ignoringRejections) {
                return .finished(outcome)
            }
            let now = clock.now
            if now >= nextPhaseCheck {
                nextPhaseCheck = now + phaseInterval
                // The store may not exist yet, or be unreadable to this user: try again next time.
                if store == nil { store = try? SQLiteJobStore(directory: stateDirectory, readOnly: true) }
                if let store, let job = try? await store.job(jobID) { phase = job.phase }
            }
            let elapsed = now - start
            progress(Progress(elapsed: elapsed, phase: phase))
            if let timeout, elapsed >= timeout { return .timedOut(lastPhase: phase) }
            try await Task.sleep(for: checkInterval)
        }
    }
}
