import Synchronization
public import VideoSpoolCore

/// Wakes one service loop when there may be new work. Signals coalesce: many signals before the
/// loop waits wake it once, and a signal sent while it is busy is not lost.
public final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns after a signal, or at once when the task is cancelled: loops that wait must check
    /// for cancellation themselves, or they spin.
    public func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    precondition(state.waiter == nil, "Invalid state: two loops wait on one WakeSignal")
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    /// A signal came while no loop waited; the next wait returns at once. (For tests.)
    package var isPending: Bool { state.withLock { $0.pending } }

    /// A loop is waiting for a signal. (For tests: a waiter proven to wait before the signal.)
    package var hasWaiter: Bool { state.withLock { $0.waiter != nil } }

    /// Returns after a signal, at `deadline`, or on cancellation, whichever comes first.
    public func wait(until deadline: Timestamp?, time: any TimeSource) async {
        guard let deadline else {
            await wait()
            return
        }
        if deadline <= time.now() { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await time.sleep(until: deadline) }
            group.addTask { await self.wait() }
            await group.next()
            group.cancelAll()
        }
    }
}
