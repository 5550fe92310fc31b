/// The states `videospool list` and `show` speak of. They fold the store's phases into what an
/// operator cares about: a finished job whose webhooks are still going out is `delivering`.
public enum JobState: String, Sendable, Hashable, CaseIterable {
    case queued, submitting, generating, storing, delivering, done, failed, canceled

    /// `rejected` requests count as `failed`: they ended without a video, and `show` names the phase.
    public init(phase: JobPhase, deliveriesPending: Bool) {
        switch phase {
        case .queued: self = .queued
        case .submitting: self = .submitting
        case .generating: self = .generating
        case .storing: self = .storing
        case .completed, .failed, .rejected, .canceled:
            if deliveriesPending {
                self = .delivering
            } else {
                switch phase {
                case .completed: self = .done
                case .canceled: self = .canceled
                default: self = .failed
                }
            }
        }
    }

    /// The phases a job in this state may be in (for store queries).
    public var phases: [JobPhase] {
        switch self {
        case .queued: [.queued]
        case .submitting: [.submitting]
        case .generating: [.generating]
        case .storing: [.storing]
        case .delivering: [.completed, .failed, .rejected, .canceled]
        case .done: [.completed]
        case .failed: [.failed, .rejected]
        case .canceled: [.canceled]
        }
    }

    /// Whether the state needs the job's deliveries pending (`true`), settled (`false`), or either.
    public var needsDeliveriesPending: Bool? {
        switch self {
        case .queued, .submitting, .generating, .storing: nil
        case .delivering: true
        case .done, .failed, .canceled: false
        }
    }
}
