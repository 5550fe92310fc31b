import DequeModule
import Logging
public import ServiceLifecycle
import Synchronization
public import VideoSpoolCore

/// Keeps `done/` and `failed/` in step with the store: after a job finishes and after each
/// delivery attempt, its outcome file is rewritten (atomically). The store remembers which version
/// each file reflects, so files missed by a crash are rewritten at the next start.
public final class OutcomeWriter: Service, Sendable {
    private struct State {
        var stale: Deque<JobID> = []
        var queued: Set<JobID> = []
        var stopping = false
    }

    private let context: PipelineContext
    private let spool: any SpoolDirectory
    private let state = Mutex(State())
    private let wake = WakeSignal()

    public init(context: PipelineContext, spool: any SpoolDirectory) {
        self.context = context
        self.spool = spool
    }

    public func markStale(_ id: JobID) {
        let added = state.withLock { state -> Bool in
            guard state.queued.insert(id).inserted else { return false }
            state.stale.append(id)
            return true
        }
        if added { wake.signal() }
    }

    public func run() async throws {
        // On graceful shutdown, finish what is queued (cheap, local) and then stop.
        try await withGracefulShutdownHandler {
            while true {
                if Task.isCancelled { return }
                let batch = state.withLock { state -> [JobID]? in
                    if state.stale.isEmpty { return state.stopping ? nil : [] }
                    let batch = Array(state.stale.prefix(256))
                    state.stale.removeFirst(batch.count)
                    for id in batch { state.queued.remove(id) }
                    return batch
                }
                guard let batch else { return }
                if batch.isEmpty {
                    await context.idle(.outcomes, on: wake, until: nil)
                    continue
                }
                context.heartbeats.beat(.outcomes, at: context.time.now())
                try await write(batch)
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.stopping = true }
            self.wake.signal()
        }
    }

    private func write(_ batch: [JobID]) async throws {
        var written: [StoreChange] = []
        for id in batch {
            guard let snapshot = try await context.store.outcome(for: id), snapshot.job.phase != .rejected else {
                continue
            }
            let document = OutcomeDocument.render(eventBody: snapshot.event.body, deliveries: snapshot.deliveries)
            do {
                try await spool.writeOutcome(document, jobID: id, completed: snapshot.job.phase == .completed)
                written.append(.outcomeWritten(id, version: snapshot.version))
            } catch {
                // The store still marks it stale, so the next start retries; say so once per file.
                context.logger.error(
                    "Could not write outcome file",
                    metadata: ["job.id": "\(id)", "error": "\(error)"]
                )
            }
        }
        if !written.isEmpty {
            try await spool.flush()
            try await context.store.commit(written)
        }
    }
}
