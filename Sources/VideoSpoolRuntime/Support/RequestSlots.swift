import Synchronization

/// A counting limit on concurrent work (API requests, generations in flight). Nobody waits on it:
/// loops take slots with ``tryAcquire()`` and sleep on a ``WakeSignal`` registered with
/// ``notifyOnRelease(_:)``. The limit can change at run time.
public final class RequestSlots: Sendable {
    private struct State {
        var limit: Int
        var inUse = 0
    }

    private let state: Mutex<State>
    private let releaseListeners = Mutex<[WakeSignal]>([])
    /// Every release that notifies listeners (a request back from the wire), for anyone who awaits
    /// the next one without a loop of their own (`videospool cancel` of a job on the wire).
    public let releases = EventCount()

    public init(limit: Int) {
        self.state = Mutex(State(limit: max(limit, 1)))
    }

    public var inUse: Int { state.withLock { $0.inUse } }
    public var available: Int { state.withLock { max($0.limit - $0.inUse, 0) } }

    /// Takes a slot without waiting; `false` when none is free.
    public func tryAcquire() -> Bool {
        state.withLock { state in
            guard state.inUse < state.limit else { return false }
            state.inUse += 1
            return true
        }
    }

    /// Counts a slot as taken even past the limit (jobs found in flight at start-up).
    public func forceAcquire(_ count: Int = 1) {
        state.withLock { $0.inUse += count }
    }

    /// Returns slots. `notifyingListeners: false` is for a loop giving back a slot it just took
    /// and found no use for: signalling itself would make it spin.
    public func release(_ count: Int = 1, notifyingListeners: Bool = true) {
        state.withLock { $0.inUse -= count }
        guard notifyingListeners else { return }
        releases.advance()
        for listener in releaseListeners.withLock({ $0 }) { listener.signal() }
    }

    /// Signals `wake` whenever a slot is released, for loops that poll with ``tryAcquire()``.
    public func notifyOnRelease(_ wake: WakeSignal) {
        releaseListeners.withLock { $0.append(wake) }
    }

    public var limit: Int { state.withLock { $0.limit } }

    /// Changes the limit; slots taken beyond a lower one stay taken until released. A higher one
    /// wakes the listeners, whose loops may now take more.
    public func setLimit(_ limit: Int) {
        let raised = state.withLock { state -> Bool in
            let raised = max(limit, 1) > state.limit
            state.limit = max(limit, 1)
            return raised
        }
        guard raised else { return }
        for listener in releaseListeners.withLock({ $0 }) { listener.signal() }
    }
}
