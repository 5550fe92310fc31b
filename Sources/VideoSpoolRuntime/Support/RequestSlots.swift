import DequeModule
import Synchronization

/// A counting semaphore for concurrent work (API requests, generations in flight). Waiters are
/// served in order; the limit can change at run time.
public final class RequestSlots: Sendable {
    private struct State {
        var limit: Int
        var inUse = 0
        var waiters: Deque<(id: UInt64, continuation: CheckedContinuation<Void, any Error>)> = []
        var nextWaiterID: UInt64 = 0
    }

    private let state: Mutex<State>
    private let releaseListeners = Mutex<[WakeSignal]>([])

    public init(limit: Int) {
        self.state = Mutex(State(limit: max(limit, 1)))
    }

    public var inUse: Int { state.withLock { $0.inUse } }
    public var available: Int { state.withLock { max($0.limit - $0.inUse, 0) } }

    /// Takes a slot without waiting; `false` when none is free.
    public func tryAcquire() -> Bool {
        state.withLock { state in
            guard state.waiters.isEmpty, state.inUse < state.limit else { return false }
            state.inUse += 1
            return true
        }
    }

    /// Counts a slot as taken even past the limit (jobs found in flight at start-up).
    public func forceAcquire(_ count: Int = 1) {
        state.withLock { $0.inUse += count }
    }

    /// Waits for a slot. Throws `CancellationError` if the task is cancelled while waiting.
    public func acquire() async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Decision { case granted, cancelled, waiting }
                let decision = state.withLock { state -> Decision in
                    // Cancellation is flagged before `onCancel` runs, so checking here closes the gap
                    // between a cancellation and this waiter being registered.
                    if Task.isCancelled { return .cancelled }
                    if state.waiters.isEmpty, state.inUse < state.limit {
                        state.inUse += 1
                        return .granted
                    }
                    state.waiters.append((id, continuation))
                    return .waiting
                }
                switch decision {
                case .granted: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .waiting: break
                }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    /// Returns slots. `notifyingListeners: false` is for a loop giving back a slot it just took
    /// and found no use for: signalling itself would make it spin.
    public func release(_ count: Int = 1, notifyingListeners: Bool = true) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.inUse -= count
            return Self.grant(&state)
        }
        for continuation in woken { continuation.resume() }
        guard notifyingListeners else { return }
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
        let (woken, raised) = state.withLock { state -> ([CheckedContinuation<Void, any Error>], Bool) in
            let raised = max(limit, 1) > state.limit
            state.limit = max(limit, 1)
            return (Self.grant(&state), raised)
        }
        for continuation in woken { continuation.resume() }
        guard raised else { return }
        for listener in releaseListeners.withLock({ $0 }) { listener.signal() }
    }

    private static func grant(_ state: inout State) -> [CheckedContinuation<Void, any Error>] {
        var woken: [CheckedContinuation<Void, any Error>] = []
        while state.inUse < state.limit, let next = state.waiters.popFirst() {
            state.inUse += 1
            woken.append(next.continuation)
        }
        return woken
    }
}
