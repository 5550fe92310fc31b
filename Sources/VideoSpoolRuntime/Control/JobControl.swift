public import Logging
public import VideoSpoolCore

/// Carries out what an operator asks (`videospool cancel`, `retry`, `redeliver`, `prune`) on the
/// store, and, inside the running daemon, on the pipeline too, so that its queues and timers learn
/// of the change. Without a pipeline (the daemon is stopped) the store is enough: the next start
/// recovers whatever was committed (pending deliveries, queued jobs, stale outcome files).
public struct JobControl: Sendable {
    /// What was done, for the person who asked.
    public struct Result: Sendable, Hashable {
        public var message: String
        public var jobs: [String] = []
        public var deliveries: Int = 0
        /// False when the work stopped part way (a prune interrupted by the daemon stopping).
        public var complete = true
        /// How many jobs a prune deleted (their ids went to its `progress`, never into ``jobs``).
        public var pruned: Int?

        public init(message: String, jobs: [String] = [], deliveries: Int = 0, complete: Bool = true, pruned: Int? = nil) {
            self.message = message
            self.jobs = jobs
            self.deliveries = deliveries
            self.complete = complete
            self.pruned = pruned
        }
    }

    private let store: any JobStore
    private let spool: any SpoolDirectory
    private let time: any TimeSource
    private let ids: IdentifierSource
    private let pipeline: Pipeline?
    /// Stored videos, which retention deletes with their jobs (`nil`: none are stored).
    private let videos: (any StoredVideoFiles)?
    /// Object storage, whose objects retention deletes with their jobs when it
    /// ``VideoObjectStorage/deletesOnPrune``.
    private let objects: (any VideoObjectStorage)?
    private let logger: Logger

    /// Inside the running daemon.
    public init(
        pipeline: Pipeline,
        spool: any SpoolDirectory,
        videos: (any StoredVideoFiles)? = nil,
        objects: (any VideoObjectStorage)? = nil
    ) {
        self.videos = videos
        self.objects = objects
        self.store = pipeline.context.store
        self.spool = spool
        self.time = pipeline.context.time
        self.ids = pipeline.context.ids
        self.pipeline = pipeline
        self.logger = pipeline.context.logger
    }

    /// On the store of a stopped daemon.
    public init(
        store: any JobStore,
        spool: any SpoolDirectory,
        time: any TimeSource,
        logger: Logger,
        videos: (any StoredVideoFiles)? = nil,
        objects: (any VideoObjectStorage)? = nil
    ) {
        self.videos = videos
        self.objects = objects
        self.store = store
        self.spool = spool
        self.time = time
        self.ids = IdentifierSource()
        self.pipeline = nil
        self.logger = logger
    }

    /// The operator rules need no policy (cancel and retry ignore schedules).
    private var machine: JobStateMachine { pipeline?.context.machine ?? JobStateMachine(policy: PipelinePolicy()) }

    // MARK: - Cancel

    public func cancel(_ id: JobID) async throws -> Result {
        let claimed: Job
        var newlyClaimed = false
        switch try await store.claimJob(id) {
        case .notFound:
            throw OperatorRefusal("no job \(id)")
        case .heldElsewhere(var job, let holder):
            _ = try machine.cancel(&job, now: time.now())  // throws the refusal for an ended job
            try await store.commit([.requestCancel(id)])
            logger.notice("Cancel requested from the daemon that holds the job", metadata: ["job.id": "\(id)"])
            return Result(
                message: "asked the daemon that holds \(id) (\(holder.host), pid \(holder.pid)) to cancel it; "
                    + "it does so within a few seconds",
                jobs: [id.rawValue]
            )
        case .held(let job, _, let newly):
            claimed = job
            newlyClaimed = newly
        }
        guard let pipeline, !newlyClaimed else {
            // No pipeline knows the job (the daemon is stopped, or the job was free until now).
            var job = claimed
            _ = try machine.cancel(&job, now: time.now())
            if let pipeline {
                try await pipeline.finisher.finish(job)
            } else {
                try await store.commit(Self.finishing(job, eventID: ids.eventID(at: time.now()), now: time.now()))
            }
            return canceled(job)
        }
        // A job on the wire (its POST or a poll) cannot be taken until its answer is in; that
        // takes at most a request timeout, so keep asking a little longer than that. Its request
        // slot is released after the answer is applied, so each release is worth another look.
        let deadline = time.now() + Self.cancelPatience
        let returns = pipeline.requestSlots.releases
        while true {
            let seen = returns.value
            var taken: Job?
            if case .withdrawn(let job) = pipeline.submissions.withdraw(id) {
                taken = job
            } else if case .withdrawn(let job) = pipeline.polling.withdraw(id) {
                taken = job
            } else {
                guard let stored = try await store.job(id) else { throw OperatorRefusal("no job \(id)") }
                if stored.phase.isTerminal || stored.phase == .storing {
                    var copy = stored
                    _ = try machine.cancel(&copy, now: time.now())  // throws the refusal
                }
            }
            if var job = taken {
                _ = try machine.cancel(&job, now: time.now())
                try await pipeline.finisher.finish(job)
                return canceled(job)
            }
            guard time.now() < deadline else {
                throw OperatorRefusal("job \(id) has a request to the API in flight; try again in a moment")
            }
            await returns.wait(past: seen, until: deadline, time: time)
            try Task.checkCancellation()
        }
    }

    /// Longer than any sane `api.request_timeout_seconds`; the control client waits longer still.
    static let cancelPatience = Duration.seconds(90)

    private func canceled(_ job: Job) -> Result {
        let upstream =
            job.generationID == nil
            ? "it was never submitted, so nothing runs upstream"
            : "the API has no cancel: generation \(job.generationID ?? "") still runs upstream and is billed"
        logger.notice("Job canceled by an operator", metadata: ["job.id": "\(job.id)", "event": "job.canceled"])
        return Result(
            message: "canceled \(job.id): polling stopped and video.generation.canceled sent to "
                + "\(job.callbackURLs.count) callback(s); \(upstream)",
            jobs: [job.id.rawValue],
            deliveries: job.callbackURLs.count
        )
    }

    /// The same changes ``JobFinisher`` commits, for a stopped daemon: the next start delivers the
    /// pending webhooks and writes the stale outcome file.
    static func finishing(_ job: Job, eventID: String, now: Timestamp) -> [StoreChange] {
        let event = WebhookPayload.finished(job, eventID: eventID, now: now)
        let records = job.callbackURLs.enumerated().map { index, url in
            Delivery(id: Delivery.ID(eventID: event.id, index: index), jobID: job.id, url: url, nextAttemptAt: now)
        }
        let held = records.map { delivery in
            var delivery = delivery
            delivery.fence = job.fence
            return delivery
        }
        return [.updateJob(job), .insertEvent(event, deliveries: held)]
    }

    /// The job, held by this daemon, for a change an operator asked for; refused when another
    /// daemon holds it (its webhooks are still going out there).
    private func hold(_ id: JobID) async throws -> (job: Job, newlyClaimed: Bool) {
        switch try await store.claimJob(id) {
        case .notFound:
            throw OperatorRefusal("no job \(id)")
        case .heldElsewhere(let job, let holder):
            throw OperatorRefusal(
                "job \(id) (\(job.phase.rawValue)) is held by the daemon on \(holder.host) (pid \(holder.pid)); "
                    + "run the command there, or once its webhooks are settled"
            )
        case .held(let job, _, let newlyClaimed):
            return (job, newlyClaimed)
        }
    }

    // MARK: - Retry

    public func retry(_ id: JobID) async throws -> Result {
        var (job, _) = try await hold(id)
        let now = time.now()
        _ = try machine.retry(&job, now: now)
        try await commit([.updateJob(job)])
        // Its old outcome no longer holds; the new ending writes a new one.
        try await spool.removeOutcome(jobID: id)
        try await spool.flush()
        if let pipeline {
            pipeline.context.counters.update { $0.failed = max(0, $0.failed - 1) }
            pipeline.submissions.enqueue(job)
        }
        logger.notice("Job sent round again by an operator", metadata: ["job.id": "\(id)", "event": "job.retried"])
        return Result(
            message: "queued \(id) for a new submission; its callbacks will get a new event (new webhook-id) when it ends",
            jobs: [id.rawValue]
        )
    }

    // MARK: - Redeliver

    /// Sends a job's latest event again, to every callback or only to `url`. A URL that is not one
    /// of the job's callbacks becomes a new delivery of the same event; the SSRF guard checks it on
    /// every attempt like any callback.
    public func redeliver(_ id: JobID, url: String?) async throws -> Result {
        guard let outcome = try await store.outcome(for: id) else {
            guard try await store.containsJob(id) else { throw OperatorRefusal("no job \(id)") }
            throw OperatorRefusal("job \(id) has not ended yet, so it has no webhook to send again")
        }
        let fence = try await hold(id).job.fence
        var selected = outcome.deliveries.map { delivery in
            var delivery = delivery
            delivery.fence = fence
            return delivery
        }
        if let url {
            if let parseError = Self.problem(with: url) { throw OperatorRefusal("--url \(parseError)") }
            selected = outcome.deliveries.filter { $0.url == url }
            if selected.isEmpty {
                let index = (outcome.deliveries.map(\.id.index).max() ?? -1) + 1
                var added = Delivery(
                    id: Delivery.ID(eventID: outcome.event.id, index: index),
                    jobID: id,
                    url: url,
                    nextAttemptAt: time.now()
                )
                added.fence = fence
                try await commit([.addDelivery(added)])
                selected = [added]
            }
        }
        guard !selected.isEmpty else { throw OperatorRefusal("job \(id) has no callback URLs; pass --url") }
        let count = try await resend(selected)
        return Result(
            message: "sending \(outcome.event.type) \(outcome.event.id) of \(id) again to \(count) URL(s)",
            jobs: [id.rawValue],
            deliveries: count
        )
    }

    /// Every delivery that ended `failed` at or after `since`.
    public func redeliverFailed(since: Timestamp) async throws -> Result {
        var failed: [Delivery] = []
        var elsewhere: [String] = []
        for (id, deliveries) in Dictionary(grouping: try await store.failedDeliveries(since: since), by: \.jobID) {
            guard let fence = try? await hold(id).job.fence else {
                elsewhere.append(id.rawValue)
                continue
            }
            failed += deliveries.map { delivery in
                var delivery = delivery
                delivery.fence = fence
                return delivery
            }
        }
        let count = try await resend(failed)
        let jobs = Array(Set(failed.map(\.jobID.rawValue))).sorted()
        let skipped =
            elsewhere.isEmpty ? "" : "; \(elsewhere.count) job(s) held by other daemons were left alone: "
                + elsewhere.sorted().joined(separator: ", ")
        return Result(
            message: "sending \(count) failed delivery(ies) of \(jobs.count) job(s) again" + skipped,
            jobs: jobs,
            deliveries: count
        )
    }

    /// Makes each delivery pending again, due now, with a fresh retry schedule; the event (so the
    /// `webhook-id` and the body) is unchanged and each attempt is signed afresh.
    private func resend(_ deliveries: [Delivery]) async throws -> Int {
        let now = time.now()
        let reset = deliveries.map { original in
            var delivery = original
            if delivery.state != .pending { delivery.attempts = 0 }
            delivery.state = .pending
            delivery.nextAttemptAt = now
            delivery.deliveredAt = nil
            return delivery
        }
        guard !reset.isEmpty else { return 0 }
        try await commit(reset.map(StoreChange.updateDelivery))
        pipeline?.deliveries.redeliver(reset)
        return reset.count
    }

    /// Commits a change to jobs this daemon just took for the operator.
    private func commit(_ changes: [StoreChange]) async throws {
        do {
            try await store.commit(changes)
        } catch let lost as LeaseLost {
            throw OperatorRefusal("\(lost); try again")
        }
    }

    static func problem(with url: String) -> String? {
        do {
            _ = try HTTPURL(parsing: url)
            return nil
        } catch {
            return "is not a usable http(s) URL: \(error.message)"
        }
    }

    // MARK: - Prune

    /// Jobs deleted per transaction: small enough that the daemon's writer is never held for long.
    public static let pruneBatchSize = 500

    /// Deletes the objects the completed jobs' events announced (`results.s3.delete_on_prune`).
    private func removeObjects(of jobs: [Job]) async throws {
        guard let objects, objects.deletesOnPrune else { return }
        for job in jobs where job.phase == .completed {
            guard let event = try await store.outcome(for: job.id)?.event,
                let object = WebhookPayload.announcedObject(in: event)
            else { continue }
            try await objects.removeObject(object)
        }
    }

    /// Deletes finished jobs that ended before `cutoff` (no delivery pending), with their outcome
    /// files, stored videos and (`results.s3.delete_on_prune`) objects, oldest first, in batches so
    /// that the daemon's writer is never held for long. Each batch costs its size (the store walks an index in prune order), so a prune of
    /// N jobs costs O(N) however long the history. `progress` hears of each batch once it is
    /// committed, with the running total. Cancellation (the daemon stopping) ends it between
    /// batches; the result then says how far it got.
    public func prune(
        before cutoff: Timestamp,
        batchSize: Int = Self.pruneBatchSize,
        progress: (@Sendable (_ batch: [JobID], _ total: Int) async -> Void)? = nil
    ) async throws -> Result {
        var pruned = 0
        var interrupted = false
        do {
            while true {
                if Task.isCancelled {
                    interrupted = true
                    break
                }
                let jobs = try await store.finishedJobs(before: cutoff, limit: batchSize)
                if jobs.isEmpty { break }
                // Files first: a crash in between leaves a row whose file is gone (pruned next time),
                // never a file no row remembers.
                for job in jobs where job.phase.hasOutcomeFile { try await spool.removeOutcome(jobID: job.id) }
                // Only completed jobs have a video; a part file is only ever left by one.
                for job in jobs where job.phase == .completed { try await videos?.removeStoredVideo(jobID: job.id) }
                try await removeObjects(of: jobs)
                try await spool.flush()
                try await store.commit(jobs.map { .deleteJob($0.id) })
                pruned += jobs.count
                await progress?(jobs.map(\.id), pruned)
                if jobs.count < batchSize { break }
            }
        } catch is CancellationError {
            interrupted = true
        }
        if pruned > 0 {
            logger.notice("Pruned finished jobs", metadata: ["event": "jobs.pruned", "count": "\(pruned)"])
        }
        var message = "pruned \(pruned) finished job(s) that ended before \(cutoff)"
        if interrupted { message += "; interrupted because the daemon is stopping: run prune again for the rest" }
        return Result(message: message, complete: !interrupted, pruned: pruned)
    }
}
