import Synchronization
public import VideoSpoolCore

/// Whether this daemon may act on the jobs it holds right now (see WorkOwnership.swift).
///
/// With one owner (SQLite) it always may. On a shared store it may only while its lease, kept on
/// the monotonic clock (``LocalLease``), has time left; every POST, poll and webhook attempt asks
/// first, so a daemon that was frozen or cut off stops acting before another may take its jobs.
public final class Ownership: Sendable {
    private struct State {
        var instance: InstanceID
        var lease: LocalLease
        /// The instance before the current one, until a new registration has replaced it.
        var lostInstance: InstanceID?
        /// Why the last renewal got no answer, until one does.
        var unreachable: String?
    }

    /// `nil` with one owner: the lease never ends.
    public let leaseDuration: Duration?
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant
    private let state: Mutex<State>

    /// How much sooner than the store a daemon considers its lease over: 3 s, or a fifth of a
    /// short lease.
    public static func margin(for leaseDuration: Duration) -> Duration {
        min(.seconds(3), leaseDuration / 5)
    }

    /// - Parameters:
    ///   - margin: how much sooner than the store this daemon considers its lease over.
    public init(registration: InstanceRegistration, margin: Duration? = nil) {
        leaseDuration = registration.leaseDuration
        origin = clock.now
        var lease = LocalLease(margin: margin ?? Self.margin(for: registration.leaseDuration ?? .seconds(15)))
        if let duration = registration.leaseDuration {
            // Registration is a renewal sent no later than now.
            lease.renewed(sentAt: .zero, duration: duration)
        }
        state = Mutex(State(instance: registration.id, lease: lease))
    }

    /// A daemon on a shared store before it has registered: it may not act until
    /// ``registered(_:sentAt:)``.
    public init(leaseDuration: Duration, margin: Duration? = nil) {
        self.leaseDuration = leaseDuration
        origin = clock.now
        let lease = LocalLease(margin: margin ?? Self.margin(for: leaseDuration))
        state = Mutex(State(instance: InstanceID("unregistered"), lease: lease))
    }

    public var isShared: Bool { leaseDuration != nil }

    public var instance: InstanceID { state.withLock { $0.instance } }

    /// Monotonic time since this object was made.
    public func now() -> Duration { clock.now - origin }

    /// Whether an action starting now and lasting up to `lasting` ends inside the lease.
    public func mayAct(lasting: Duration = .zero) -> Bool {
        guard isShared else { return true }
        let now = now()
        return state.withLock { $0.lease.allowsAction(at: now, lasting: lasting) }
    }

    func renewed(sentAt: Duration, duration: Duration) {
        state.withLock { $0.lease.renewed(sentAt: sentAt, duration: duration) }
    }

    /// The lease is gone (the store said so, or it ran out locally). Returns `false` when it was
    /// already known to be gone.
    func lose() -> Bool {
        state.withLock { state in
            guard state.lostInstance == nil else { return false }
            state.lostInstance = state.instance
            state.lease.lost()
            return true
        }
    }

    func hasExpired() -> Bool {
        let now = now()
        return state.withLock { $0.lostInstance == nil && $0.lease.hasExpired(at: now) }
    }

    /// The instance to replace when registering again after a loss.
    var lostInstance: InstanceID? { state.withLock { $0.lostInstance } }

    /// The store accepted a registration sent at `sentAt` (``now()``).
    public func registered(_ registration: InstanceRegistration, sentAt: Duration) {
        state.withLock { state in
            state.instance = registration.id
            state.lostInstance = nil
            state.lease.lost()
            if let duration = registration.leaseDuration { state.lease.renewed(sentAt: sentAt, duration: duration) }
        }
    }

    /// Why the store did not answer the last renewal (`nil` once one is answered): the status line
    /// says so even when no commit is waiting.
    public var unreachable: String? { state.withLock { $0.unreachable } }

    func databaseUnreachable(_ reason: String?) {
        state.withLock { $0.unreachable = reason }
    }

    /// Whether the lease is gone and the daemon has not registered again yet.
    public var isLost: Bool { state.withLock { $0.lostInstance != nil } }
}
