import ServiceLifecycle
import VideoSpoolCore

/// What a pipeline service's loop does next.
enum ServiceLoopStep<Work> {
    /// Shutting down: return from `run()`; requests started before finish in the task group.
    case stop
    /// Nothing to do until `until` (`nil`: until signalled).
    case wait(until: Timestamp?)
    case work(Work)
}

extension PipelineContext {
    /// The run loop the submission, polling and delivery services share: ask `next` what to do,
    /// idle on `wake` (beating the loop's heartbeat, never sleeping past the next beat) or hand the
    /// work to `perform`, which starts requests as child tasks of the loop's discarding task group.
    /// A graceful shutdown calls `stopping` (the service marks itself so that `next` says `.stop`)
    /// and wakes the loop; the group then waits for the requests on the wire, or, with
    /// `cancellingWorkOnStop` (downloads, which may take long and resume later), cancels them.
    func runServiceLoop<Work>(
        _ loop: Heartbeats.Loop,
        wake: WakeSignal,
        cancellingWorkOnStop: Bool = false,
        stopping: @escaping @Sendable () -> Void,
        next: () -> ServiceLoopStep<Work>,
        perform: (Work, inout ThrowingDiscardingTaskGroup<any Error>) async -> Void
    ) async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                while true {
                    switch next() {
                    case .stop:
                        if cancellingWorkOnStop { group.cancelAll() }
                        return
                    case .wait(let deadline):
                        await idle(loop, on: wake, until: deadline)
                    case .work(let work):
                        heartbeats.beat(loop, at: time.now())
                        await perform(work, &group)
                    }
                }
            }
        } onGracefulShutdown: {
            stopping()
            wake.signal()
        }
    }
}
