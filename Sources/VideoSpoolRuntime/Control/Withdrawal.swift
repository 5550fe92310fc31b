public import VideoSpoolCore

/// What a service answers when asked to let go of a job (`videospool cancel`).
public enum Withdrawal: Sendable {
    /// The service held the job and no longer does.
    case withdrawn(Job)
    /// The job has a request on the wire; its answer decides, so ask again shortly.
    case busy
    /// The service does not hold the job.
    case notHere
}
