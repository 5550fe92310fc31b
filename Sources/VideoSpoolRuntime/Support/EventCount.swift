import Synchronization
public import VideoSpoolCore

/// Counts occurrences of an event (a request coming back from the API) so that any number of tasks
/// can await the next one without missing it: a waiter reads ``value`` before it looks at the
/// world, and ``wait(past:until:time:)`` returns at once if the event happened meanwhile.
public final class EventCount: Sendable {
    private struct State {
        var value: UInt64 = 0
        var waiters: [UInt64: (past: UInt64, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var value: UInt64 { state.withLock { $0.value } }

    /// How many tasks wait. (For tests: a waiter proven to wait before the event.)
    package var waiterCount: Int { state.withLock { $0.waiters.count } }

    public func advance() {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.value += 1
            let due = state.waiters.filter { $0.value.past < state.value }
            for id in due.keys { state.waiters.removeValue(forKey: id) }
            return due.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns once ``value`` exceeds `past`, or on cancellation.
    public func wait(past: UInt64) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.value > past || Task.isCancelled { return true }
                    state.waiters[id] = (past, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// Returns once ``value`` exceeds `past`, at `deadline`, or on cancellation, whichever is first.
    public func wait(past: UInt64, until deadline: Timestamp, time: any TimeSource) async {
        if deadline <= time.now() { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await time.sleep(until: deadline) }
            group.addTask { await self.wait(past: past) }
            await group.next()
            group.cancelAll()
        }
    }
}
