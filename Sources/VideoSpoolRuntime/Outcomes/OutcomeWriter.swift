import DequeModule
import Logging
public import ServiceLifecycle
import Synchronization
public import VideoSpoolCore

/// Keeps `done/` and `failed/` in step with the store: after a job finishes and after each
/// delivery attempt, its outcome file is rewritten (atomically). The store remembers which version
/// each file reflects, so files missed by a crash are rewritten at the next start; a write that
/// fails (disk full) is tried again later.
///
/// A job that has just finished and whose webhooks are on their way (none attempted yet) is put
/// off for up to ``PipelinePolicy/outcomeHold`` (a second): their answers come moments later and would rewrite the
/// file at once, so each job is usually written once, with its deliveries' results, not twice.
public final class OutcomeWriter: Service, Sendable {
    private struct State {
        var stale: Deque<JobID> = []
        var queued: Set<JobID> = []
        /// Files whose write failed, and when to try them again.
        var retry: [JobID] = []
        var retryAt: Timestamp?
        /// Files put off while their job's first webhook attempts run, in the order put off
        /// (so the first is the first due); a job re-marked stale meanwhile leaves `heldSet`.
        var held: Deque<(id: JobID, until: Timestamp)> = []
        var heldSet: Set<JobID> = []
        var stopping = false
    }

    /// How long after a failed write the file is tried again.
    static let retryDelay = Duration.seconds(10)

    private let context: PipelineContext
    private let spool: any SpoolDirectory
    /// The spool this daemon watches, on a shared store: outcome files of requests from another
    /// spool are left to a daemon watching that one.
    private let spoolID: String?
    private let state = Mutex(State())
    private let wake = WakeSignal()

    public init(context: PipelineContext, spool: any SpoolDirectory, spoolID: String? = nil) {
        self.context = context
        self.spool = spool
        self.spoolID = spoolID
    }

    public func markStale(_ id: JobID) {
        let added = state.withLock { state -> Bool in
            state.heldSet.remove(id)
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
                let now = context.time.now()
                let step = state.withLock { state -> (batch: [JobID], wait: Timestamp?)? in
                    if let retryAt = state.retryAt, retryAt <= now {
                        for id in state.retry where state.queued.insert(id).inserted { state.stale.append(id) }
                        state.retry.removeAll()
                        state.retryAt = nil
                    }
                    // Held files are due at their time, and all of them when stopping.
                    while let first = state.held.first, state.stopping || first.until <= now {
                        state.held.removeFirst()
                        if state.heldSet.remove(first.id) != nil, state.queued.insert(first.id).inserted {
                            state.stale.append(first.id)
                        }
                    }
                    if state.stale.isEmpty {
                        let wait = [state.retryAt, state.held.first?.until].compactMap { $0 }.min()
                        return state.stopping ? nil : ([], wait)
                    }
                    let batch = Array(state.stale.prefix(256))
                    state.stale.removeFirst(batch.count)
                    for id in batch { state.queued.remove(id) }
                    return (batch, nil)
                }
                guard let step else { return }
                if step.batch.isEmpty {
                    await context.idle(.outcomes, on: wake, until: step.wait)
                    continue
                }
                context.heartbeats.beat(.outcomes, at: now)
                try await write(step.batch)
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.stopping = true }
            self.wake.signal()
        }
    }

    /// When to write the file anyway, if it is to be put off: the job finished less than
    /// ``PipelinePolicy/outcomeHold`` ago and none of its webhooks has been attempted yet.
    private func holdUntil(_ snapshot: OutcomeSnapshot) -> Timestamp? {
        guard !snapshot.deliveries.isEmpty,
            snapshot.deliveries.allSatisfy({ $0.state == .pending && $0.attempts == 0 })
        else { return nil }
        let now = context.time.now()
        let hold = context.policy.outcomeHold
        let until = min((snapshot.job.finishedAt ?? now) + hold, now + hold)
        return until > now ? until : nil
    }

    /// Puts a file off; not while stopping, when everything is written.
    private func hold(_ id: JobID, until: Timestamp) -> Bool {
        state.withLock { state in
            if state.stopping { return false }
            state.held.append((id, until))
            state.heldSet.insert(id)
            return true
        }
    }

    private func write(_ batch: [JobID]) async throws {
        var written: [StoreChange] = []
        var failed: [JobID] = []
        let snapshots = try await context.store.outcomes(for: batch)
        for id in batch {
            // A retried job is running again: its old outcome is gone until it ends anew.
            guard let snapshot = snapshots[id], snapshot.job.phase.hasOutcomeFile else { continue }
            if let theirs = snapshot.spoolID, let spoolID, theirs != spoolID { continue }
            if let until = holdUntil(snapshot), hold(id, until: until) {
                context.logger.debug(
                    "Outcome file put off until the first webhook attempts end",
                    metadata: ["job.id": "\(id)", "event": "outcome.held"]
                )
                continue
            }
            let document = OutcomeDocument.render(eventBody: snapshot.event.body, deliveries: snapshot.deliveries)
            do {
                try await spool.writeOutcome(document, jobID: id, completed: snapshot.job.phase == .completed)
                written.append(.outcomeWritten(id, version: snapshot.version))
            } catch {
                failed.append(id)
                context.logger.error(
                    "Could not write an outcome file; will try again",
                    metadata: ["job.id": "\(id)", "error": "\(error)"]
                )
            }
        }
        if !written.isEmpty {
            do {
                try await spool.flush()
                // Bookkeeping: lost in a crash, the files are only rewritten at the next start. So
                // it goes with the next commit, not one of its own, except when stopping.
                if state.withLock({ $0.stopping }) {
                    try await context.commit(written, for: .outcomes)
                } else {
                    context.store.commitWithNext(written)
                }
            } catch let error as CancellationError {
                throw error
            } catch {
                // Not durable: the files count as stale until a later write is.
                context.logger.error("Could not sync the outcome directories; will try again", metadata: ["error": "\(error)"])
                failed.append(contentsOf: batch)
            }
        }
        if !failed.isEmpty {
            let retryAt = context.time.now() + Self.retryDelay
            state.withLock { state in
                state.retry.append(contentsOf: failed)
                state.retryAt = state.retryAt ?? retryAt
            }
        }
    }
}
