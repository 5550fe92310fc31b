import Synchronization
public import VideoSpoolCore

/// When each service loop last went round. The watchdog is fed only while every loop is fresh,
/// so a wedged loop stops the pings and systemd restarts the daemon (a timer alone cannot see
/// that). Idle loops wake at `interval` just to beat.
public final class Heartbeats: Sendable {
    public enum Loop: String, Sendable, CaseIterable {
        case intake, submission, polling, delivery, outcomes
        /// The lease keeper of a shared store (only watched when it runs).
        case ownership
    }

    private let beats = Mutex<[Loop: Timestamp]>([:])
    private let watched = Mutex<Set<Loop>>([.intake, .submission, .polling, .delivery, .outcomes])
    /// How often an idle loop must wake to beat; `nil` when nobody watches (no watchdog).
    public let interval: Duration?

    public init(interval: Duration?) {
        self.interval = interval
    }

    public func beat(_ loop: Loop, at now: Timestamp) {
        beats.withLock { $0[loop] = now }
    }

    /// Adds a loop that runs only in some configurations to the ones the watchdog waits for.
    public func watch(_ loop: Loop) {
        watched.withLock { _ = $0.insert(loop) }
    }

    /// The watched loops that have not beaten since `now - maximumAge` (or never).
    public func stale(now: Timestamp, maximumAge: Duration) -> [Loop] {
        let loops = watched.withLock { watched in Loop.allCases.filter(watched.contains) }
        return stale(now: now, maximumAge: maximumAge, among: loops)
    }

    /// The loops among `loops` that have not beaten since `now - maximumAge` (or never).
    public func stale(now: Timestamp, maximumAge: Duration, among loops: [Loop]) -> [Loop] {
        beats.withLock { beats in
            loops.filter { loop in beats[loop].map { now - $0 > maximumAge } ?? true }
        }
    }

    /// The latest a loop may sleep until: its own deadline, or its next beat, whichever is first.
    public func wakeDeadline(_ deadline: Timestamp?, now: Timestamp) -> Timestamp? {
        guard let interval else { return deadline }
        let beat = now + interval
        return deadline.map { min($0, beat) } ?? beat
    }
}
