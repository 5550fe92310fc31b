/// Whether the job store can take commits right now, as its backend sees it.
///
/// Every backend can be out of reach for a while: SQLite on a full or read-only disk, a database
/// server that is down. Commits then wait on purpose and are retried until the store is back; the
/// runtime reads this to say so in the status line and to keep the watchdog fed for service loops
/// that are waiting in a commit (and only for those, and only while this says so).
public enum StoreAvailability: Sendable, Hashable {
    case available
    /// Commits wait until the store can be written again; `reason` is short, for a status line
    /// ("disk full", "read-only").
    case unavailable(reason: String, since: Timestamp)

    /// Why commits are waiting, if they are.
    public var reason: String? {
        guard case .unavailable(let reason, _) = self else { return nil }
        return reason
    }

    public var isAvailable: Bool { self == .available }
}
