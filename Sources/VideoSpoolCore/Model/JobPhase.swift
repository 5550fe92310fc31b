/// Where a job is in its life. Persisted by name, so the raw values are part of the store format.
public enum JobPhase: String, Sendable, Hashable, CaseIterable {
    /// Accepted and waiting for a submission slot (or for a retry).
    case queued
    /// The intent to POST is recorded; the outcome of the POST is not (yet).
    case submitting
    /// Upstream accepted the request and gave a generation id; being polled.
    case generating
    /// The generation finished with a video, which the daemon is storing (`results.download`)
    /// before it announces the job: it becomes `completed` once the file is stored, or once
    /// `results.deadline_seconds` ran out (then announced with the upstream URL and the error).
    case storing
    /// The generation finished with a video.
    case completed
    /// The job ended without a video.
    case failed
    /// The request file was invalid; nothing was submitted.
    case rejected
    /// An operator canceled it (`videospool cancel`). The API has no cancel: a generation already
    /// submitted still runs upstream and is billed; only the daemon stopped waiting for it.
    case canceled

    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .rejected, .canceled: true
        case .queued, .submitting, .generating, .storing: false
        }
    }

    /// Finished jobs with a file in `done/` or `failed/` (canceled jobs go to `failed/`; rejected
    /// requests have theirs in `rejected/`).
    public var hasOutcomeFile: Bool {
        self == .completed || self == .failed || self == .canceled
    }

    /// Jobs counted against `api.max_in_flight_generations`.
    public var holdsGenerationSlot: Bool {
        self == .submitting || self == .generating
    }
}
