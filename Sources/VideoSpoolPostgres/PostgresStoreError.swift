public import VideoSpoolCore

/// What the PostgreSQL store reports besides the port's own errors (``LeaseLost``,
/// ``SourceAlreadyTaken``). Descriptions never contain the database password.
public enum PostgresStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A fenced write or an ownership operation before ``PostgresJobStore/register(_:replacing:)``
    /// (or insertJob without a spool id).
    case notRegistered
    case unknownJob(JobID)
    /// A job with this id exists and did not come from the same spool file.
    case duplicateJob(JobID)
    /// No connection could be had in time (the database is down, unreachable, or refusing).
    case unreachable(after: Duration)
    /// Connecting failed (the reason as the server or the network gave it); waited out.
    case connectionFailed(String)
    /// The server refused this configuration (password, role, database, TLS): not waited out.
    case refused(String)
    /// The database's schema is newer than this build knows.
    case schemaTooNew(found: Int, known: Int)
    /// The store has stopped (its ``PostgresJobStore/run()`` ended).
    case closed
    /// The database refused a statement (SQLSTATE and the server's message).
    case database(String)

    public var description: String {
        switch self {
        case .notRegistered:
            "this process has not registered an instance with the shared job store"
        case .unknownJob(let id):
            "no job \(id) in the store"
        case .duplicateJob(let id):
            "a job with id \(id) already exists"
        case .unreachable(let after):
            "no database connection within \(after.secondsDouble) s"
        case .connectionFailed(let reason):
            "cannot connect to the database: \(reason)"
        case .refused(let reason):
            "the database refused the connection: \(reason)"
        case .schemaTooNew(let found, let known):
            "the database's videospool schema is version \(found); this videospool knows up to \(known) (upgrade it)"
        case .closed:
            "the job store has stopped"
        case .database(let reason):
            "the database refused a statement: \(reason)"
        }
    }
}

/// A submission beyond the job's allowance reached the database, which refused it: the code that
/// must prevent a second paid POST did not. Never expected; the transaction was not applied.
public struct SubmitBudgetExceeded: Error, Sendable, Hashable, CustomStringConvertible {
    public var jobID: JobID
    public var attempts: Int
    public var allowance: Int

    public init(jobID: JobID, attempts: Int, allowance: Int) {
        self.jobID = jobID
        self.attempts = attempts
        self.allowance = allowance
    }

    public var description: String {
        "the store refused submission \(attempts) of job \(jobID): it is allowed \(allowance) (submit_budget)"
    }
}
