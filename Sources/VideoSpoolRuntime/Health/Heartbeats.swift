import Synchronization
public import VideoSpoolCore

/// When each service loop last went round. The watchdog is fed only while every loop is fresh,
/// so a wedged loop stops the pings and systemd restarts the daemon (a timer alone cannot see
/// that). Idle loops wake at `interval` just to beat.
///
/// A loop that commits in its own task (intake, outcomes) waits there on purpose while the store
/// cannot be written (a full disk). It says so with ``waitingForStore(_:time:_:)``, and while the
/// store reports that it is unavailable, such a loop counts as alive however long it waits. Only
/// then: a loop stuck anywhere else, or in a store call while the store says it is available,
/// still stops the pings.
public final class Heartbeats: Sendable {
    public enum Loop: String, Sendable, CaseIterable {
        case intake, submission, polling, delivery, outcomes
        /// The lease keeper of a shared store (only watched when it runs).
        case ownership
        /// The video downloads (not watched: a download may run for long, and a stuck one ends at
        /// its own deadline).
        case downloads
    }

    private struct State {
        var beats: [Loop: Timestamp] = [:]
        /// Store calls each loop is inside right now.
        var storeCalls: [Loop: Int] = [:]
        /// The loops the watchdog waits for.
        var watched: Set<Loop> = [.intake, .submission, .polling, .delivery, .outcomes]
    }

    private let state = Mutex(State())
    /// How often an idle loop must wake to beat; `nil` when nobody watches (no watchdog).
    public let interval: Duration?

    public init(interval: Duration?) {
        self.interval = interval
    }

    public func beat(_ loop: Loop, at now: Timestamp) {
        state.withLock { $0.beats[loop] = now }
    }

    /// Runs `body`, a store call made by `loop` in its own task, marking the loop as waiting for
    /// the store meanwhile; the loop beats when the call returns (it is moving again).
    public func waitingForStore<Result>(
        _ loop: Loop,
        time: any TimeSource,
        _ body: () async throws -> Result
    ) async rethrows -> Result {
        state.withLock { $0.storeCalls[loop, default: 0] += 1 }
        defer {
            let now = time.now()
            state.withLock { state in
                state.storeCalls[loop, default: 1] -= 1
                if state.storeCalls[loop] == 0 { state.storeCalls[loop] = nil }
                state.beats[loop] = now
            }
        }
        return try await body()
    }

    /// Adds a loop that runs only in some configurations to the ones the watchdog waits for.
    public func watch(_ loop: Loop) {
        state.withLock { _ = $0.watched.insert(loop) }
    }

    /// The loops that have not beaten since `now - maximumAge` (or never), among `loops` (by default
    /// every watched loop).
    ///
    /// - Parameter storeUnavailable: whether the store says its commits are waiting; a loop
    ///   waiting in a store call is then not stale.
    public func stale(
        now: Timestamp,
        maximumAge: Duration,
        among loops: [Loop]? = nil,
        storeUnavailable: Bool = false
    ) -> [Loop] {
        state.withLock { state in
            (loops ?? Loop.allCases.filter(state.watched.contains)).filter { loop in
                if storeUnavailable, state.storeCalls[loop] != nil { return false }
                return state.beats[loop].map { now - $0 > maximumAge } ?? true
            }
        }
    }

    /// The latest a loop may sleep until: its own deadline, or its next beat, whichever is first.
    public func wakeDeadline(_ deadline: Timestamp?, now: Timestamp) -> Timestamp? {
        guard let interval else { return deadline }
        let beat = now + interval
        return deadline.map { min($0, beat) } ?? beat
    }
}
