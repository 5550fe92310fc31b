import Logging
public import VideoSpoolCore

/// Work changing hands: jobs taken from the store (at start, or released by another daemon on a
/// shared store) and jobs given up when this daemon's lease is gone.
extension Pipeline {
    /// Takes over jobs the store handed to this daemon: each resumes where the store says it was.
    public func adopt(_ work: RecoveredState) async throws {
        let now = context.time.now()
        for original in work.activeJobs {
            var job = original
            switch context.machine.recovered(&job, now: now) {
            case .enqueue(let at)?:
                if job != original {
                    // The ambiguity policy sent it back to the queue (raising its allowance): commit that first.
                    guard try await context.commitHeld([.updateJob(job)]) else { continue }
                }
                submissions.enqueue(job, at: at)
            case .poll(let at)?:
                generationSlots.forceAcquire()
                polling.track(job, pollAt: at)
            case .storeVideo(let at)?:
                downloads.track(job, at: at)
            case .finish?:
                do {
                    try await finisher.finish(job)
                } catch is LeaseLost {
                    context.logger(for: job).notice("Job lost to another daemon", metadata: ["event": "job.lost"])
                }
            case .pauseSubmissions?, .pausePolling?, nil:
                preconditionFailure("Invalid state: recovery of \(original.phase) job gave no action")
            }
        }
        deliveries.restore(work.pendingDeliveries)
        for id in work.staleOutcomes { outcomes.markStale(id) }
        intake.restore(unsettled: work.unsettledSources)
    }

    /// Stops acting on every job this daemon holds (its lease is gone). Requests already on the
    /// wire finish, but nothing they learn is committed: the store refuses their fenced writes.
    /// Returns how many jobs were dropped.
    @discardableResult
    public func abandonAll() -> Int {
        let queued = submissions.abandonAll()
        let generating = polling.abandonAll()
        let storing = downloads.abandonAll()
        let delivering = deliveries.abandonAll()
        return queued + generating + storing + delivering
    }

    /// How many queued jobs a claim may take: enough to keep every generation slot busy for a
    /// while, no more (the rest stay free for other daemons).
    public var queueRoom: Int {
        max(0, 2 * generationSlots.limit - submissions.queueStatus.queued)
    }
}
