import Synchronization
public import VideoSpoolCore

/// When each service loop last went round. The watchdog is fed only while every loop is fresh,
/// so a wedged loop stops the pings and systemd restarts the daemon (a timer alone cannot see
/// that). Idle loops wake at `interval` just to beat.
public final class Heartbeats: Sendable {
    public enum Loop: String, Sendable, CaseIterable {
        case intake, submission, polling, delivery, outcomes
    }

    private let beats = Mutex<[Loop: Timestamp]>([:])
    /// How often an idle loop must wake to beat; `nil` when nobody watches (no watchdog).
    public let interval: Duration?

    public init(interval: Duration?) {
        self.interval = interval
    }

    public func beat(_ loop: Loop, at now: Timestamp) {
        beats.withLock { $0[loop] = now }
    }

    /// The loops that have not beaten since `now - maximumAge` (or never).
    public func stale(now: Timestamp, maximumAge: Duration, among loops: [Loop] = Loop.allCases) -> [Loop] {
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
