import Synchronization
public import VideoSpoolCore

/// Hands out job ids and webhook message ids (ULIDs), safe to share between services.
public final class IdentifierSource: Sendable {
    private let generator = Mutex(ULIDGenerator())

    public init() {}

    public func jobID(at now: Timestamp) -> JobID {
        JobID(trusted: next(at: now))
    }

    /// A `webhook-id`: `msg_` + ULID.
    public func eventID(at now: Timestamp) -> String {
        "msg_" + next(at: now)
    }

    private func next(at now: Timestamp) -> String {
        generator.withLock { generator in
            var random = SystemRandomNumberGenerator()
            return generator.next(at: now, using: &random)
        }
    }
}
