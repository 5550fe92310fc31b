/// This daemon's own view of its lease, on a monotonic clock.
///
/// The store ends a lease by its own clock, `duration` after it received the renewal. Counting
/// from when the renewal was *sent* (earlier), and ending `margin` sooner still, the daemon always
/// stops acting before any other daemon may take its jobs, whatever the wall clocks say and however
/// long the process was frozen: the monotonic clock runs on while it is stopped.
public struct LocalLease: Sendable, Hashable {
    /// Instants are durations since any fixed monotonic origin.
    public private(set) var validUntil: Duration?
    public let margin: Duration

    public init(margin: Duration) {
        self.margin = margin
    }

    /// A renewal sent at `sentAt` was acknowledged for `duration`.
    public mutating func renewed(sentAt: Duration, duration: Duration) {
        let end = sentAt + duration - margin
        validUntil = max(validUntil ?? end, end)
    }

    /// The store said the lease is gone, or a new registration starts afresh.
    public mutating func lost() {
        validUntil = nil
    }

    /// Whether an action that starts at `now` and may take `lasting` ends inside the lease.
    public func allowsAction(at now: Duration, lasting: Duration = .zero) -> Bool {
        guard let validUntil else { return false }
        return now + lasting < validUntil
    }

    /// Whether the lease has run out (it was held and was not renewed in time).
    public func hasExpired(at now: Duration) -> Bool {
        guard let validUntil else { return false }
        return now >= validUntil
    }
}
