import DequeModule
import Logging
public import ServiceLifecycle
import Synchronization
public import VideoSpoolCore

/// Sends queued jobs to the API, at most `generationSlots` generations in flight and at most
/// `requestSlots` HTTP requests at once, each admitted by the `rateLimiter`. Records the intent before each POST and the generation id
/// right after it. After a 401, 403 or 3xx, pauses all submissions and probes with one job until the
/// API accepts again (``AuthenticationPause``); nothing is failed meanwhile.
public final class SubmissionService: Service, Sendable {
    public struct Configuration: Sendable {
        /// Jobs whose intent is committed in one transaction.
        public var batchSize: Int = 64

        public init() {}
    }

    private struct State {
        var ready: Deque<Job> = []
        var delayed = TimerQueue<JobID>()
        var delayedJobs: [JobID: Job] = [:]
        var inFlight = 0
        var pause = AuthenticationPause()
        /// Set while a budget stops submissions.
        var budgetHold: BudgetHold?
        var stopping = false
        /// Request bodies handed over by the intake with their jobs, so that the POST does not
        /// read back from the store what was just written there; up to ``bodyCacheLimit`` bytes.
        var bodies: [JobID: [UInt8]] = [:]
        var bodyBytes = 0

        mutating func dropBody(_ id: JobID) {
            if let body = bodies.removeValue(forKey: id) { bodyBytes -= body.count }
        }
    }

    /// Bytes of request bodies kept in memory for queued jobs; beyond it they are read from the store.
    static let bodyCacheLimit = 8 << 20

    private let context: PipelineContext
    private let api: any GenerationAPI
    private let requestSlots: RequestSlots
    private let generationSlots: RequestSlots
    private let rateLimiter: APIRateLimiter
    private let generationLimit: GenerationLimit?
    private let polling: PollingService
    private let finisher: JobFinisher
    private let configuration: Configuration
    private let state = Mutex(State())
    private let wake = WakeSignal()

    public init(
        context: PipelineContext,
        api: any GenerationAPI,
        requestSlots: RequestSlots,
        generationSlots: RequestSlots,
        rateLimiter: APIRateLimiter,
        generationLimit: GenerationLimit? = nil,
        polling: PollingService,
        finisher: JobFinisher,
        configuration: Configuration = Configuration()
    ) {
        self.context = context
        self.api = api
        self.requestSlots = requestSlots
        self.generationSlots = generationSlots
        self.rateLimiter = rateLimiter
        self.generationLimit = generationLimit
        self.polling = polling
        self.finisher = finisher
        self.configuration = configuration
        generationSlots.notifyOnRelease(wake)
        requestSlots.notifyOnRelease(wake)
    }

    /// Adds a queued job; it is sent at `at` or when a slot frees, whichever is later.
    /// Queues `job`; `body` is its request body when the caller has it at hand (the intake).
    public func enqueue(_ job: Job, at: Timestamp? = nil, body: [UInt8]? = nil) {
        state.withLock { state in
            if let body, state.bodies[job.id] == nil, state.bodyBytes + body.count <= Self.bodyCacheLimit {
                state.bodies[job.id] = body
                state.bodyBytes += body.count
            }
            if let at, at > context.time.now() {
                state.delayedJobs[job.id] = job
                state.delayed.schedule(job.id, at: at)
            } else {
                state.ready.append(job)
            }
        }
        wake.signal()
    }

    /// Takes a job out of the queue (an operator canceled it). A job whose POST is in flight is
    /// not in the queue: its intent is committed and its answer decides, so it is `notHere`.
    public func withdraw(_ id: JobID) -> Withdrawal {
        state.withLock { state -> Withdrawal in
            if let job = state.delayedJobs.removeValue(forKey: id) {
                state.delayed.cancel(id)
                state.dropBody(id)
                return .withdrawn(job)
            }
            if let index = state.ready.firstIndex(where: { $0.id == id }) {
                state.dropBody(id)
                return .withdrawn(state.ready.remove(at: index))
            }
            return .notHere
        }
    }

    /// Empties the queue (this daemon's lease is gone); POSTs on the wire finish and their answers
    /// are recorded as facts only. Returns how many jobs were dropped.
    func abandonAll() -> Int {
        state.withLock { state in
            let count = state.ready.count + state.delayedJobs.count
            state.ready.removeAll()
            state.delayedJobs.removeAll()
            state.delayed = TimerQueue()
            state.bodies.removeAll()
            state.bodyBytes = 0
            return count
        }
    }

    /// The budget limit that stops submissions now, if one does (for the status line, and a
    /// future `videospool_budget_reached` gauge).
    public var budgetReached: BudgetReached? {
        state.withLock { $0.budgetHold?.reached }
    }

    /// The budget settings changed (reload): a held queue tries again at once, since the limit
    /// that stopped it may have been raised or removed.
    public func budgetChanged() {
        state.withLock { state in
            if state.budgetHold != nil { state.budgetHold?.retryAt = context.time.now() }
        }
        wake.signal()
    }

    /// Jobs waiting to be submitted, and the reason submissions are paused (if they are).
    public var queueStatus: (queued: Int, submitting: Int, pausedReason: String?) {
        state.withLock { state in
            (state.ready.count + state.delayedJobs.count, state.inFlight, state.pause.reason)
        }
    }

    public func run() async throws {
        try await context.runServiceLoop(
            .submission,
            wake: wake,
            stopping: { self.state.withLock { $0.stopping = true } },
            next: nextBatch,
            perform: { batch, group in start(batch.jobs, origin: batch.origin, in: &group) }
        )
    }

    /// Jobs to send; their answers are reported to the pause with `origin`.
    private struct Batch {
        var jobs: [Job]
        var origin: AuthenticationPause.Origin
    }

    /// Takes the jobs that may be sent now, reserving a generation slot for each.
    private func nextBatch() -> ServiceLoopStep<Batch> {
        let now = context.time.now()
        return state.withLock { state -> ServiceLoopStep<Batch> in
            if state.stopping || Task.isCancelled { return .stop }
            for id in state.delayed.popDue(now: now) {
                if let job = state.delayedJobs.removeValue(forKey: id) { state.ready.append(job) }
            }
            let origin: AuthenticationPause.Origin
            switch state.pause.admission(now: now) {
            case .closed(let until):
                return .wait(until: earliest(until, state.delayed.nextDue()))
            case .probeDue:
                // The pause is over: one job probes. Until there is one to send, stay paused.
                guard !state.ready.isEmpty else { return .wait(until: state.delayed.nextDue()) }
                if case .refused(let retryAt) = takeSlots() {
                    return .wait(until: earliest(retryAt, state.delayed.nextDue()))
                }
                state.pause.probeSent()
                state.inFlight += 1
                return .work(Batch(jobs: [state.ready.removeFirst()], origin: .probe))
            case .open(let regular):
                origin = regular
            }
            // A budget stopped submissions: wait, then let one job try again (its reservation is
            // the check) while the others stay queued.
            if let hold = state.budgetHold {
                if hold.probing || now < hold.retryAt || state.ready.isEmpty {
                    // While the retrying job is under way, its answer wakes the loop.
                    let retryAt = hold.probing ? nil : hold.retryAt
                    return .wait(until: earliest(retryAt, state.delayed.nextDue()))
                }
                if case .refused(let retryAt) = takeSlots() {
                    return .wait(until: earliest(retryAt, state.delayed.nextDue()))
                }
                state.budgetHold?.probing = true
                state.inFlight += 1
                return .work(Batch(jobs: [state.ready.removeFirst()], origin: origin))
            }
            // No more than can be sent right away: a job taken from the queue never waits for a
            // slot (a pause could have begun by then), and the loop never blocks (it must beat).
            var jobs: [Job] = []
            var retryAt: Timestamp?
            while jobs.count < configuration.batchSize, !state.ready.isEmpty {
                if case .refused(let at) = takeSlots() {
                    retryAt = at
                    break
                }
                jobs.append(state.ready.removeFirst())
            }
            if jobs.isEmpty { return .wait(until: earliest(retryAt, state.delayed.nextDue())) }
            state.inFlight += jobs.count
            return .work(Batch(jobs: jobs, origin: origin))
        }
    }

    private enum Slots {
        case taken
        /// Try again when a slot is released, or at `retryAt` when the rate limiter said when.
        case refused(retryAt: Timestamp?)
    }

    /// Takes a generation slot, a request slot and the rate limiter's admission together, or none
    /// (without waking this loop, which would then spin).
    private func takeSlots() -> Slots {
        guard generationSlots.tryAcquire() else { return .refused(retryAt: nil) }
        guard requestSlots.tryAcquire() else {
            generationSlots.release(notifyingListeners: false)
            return .refused(retryAt: nil)
        }
        if case .wait(let until) = rateLimiter.admit(.submission) {
            requestSlots.release(notifyingListeners: false)
            generationSlots.release(notifyingListeners: false)
            return .refused(retryAt: until)
        }
        return .taken
    }

    private func earliest(_ first: Timestamp?, _ second: Timestamp?) -> Timestamp? {
        guard let first else { return second }
        guard let second else { return first }
        return min(first, second)
    }

    /// Sends each job (its request slot and generation slot already taken).
    private func start(
        _ jobs: [Job],
        origin: AuthenticationPause.Origin,
        in group: inout ThrowingDiscardingTaskGroup<any Error>
    ) {
        for job in jobs {
            group.addTask {
                defer { self.requestSlots.release() }
                let handedOver = self.state.withLock { state in
                    defer { state.dropBody(job.id) }
                    return state.bodies[job.id]
                }
                var body = handedOver
                if body == nil { body = try await self.context.store.requestBody(for: job.id) }
                guard let body else {
                    preconditionFailure("Invalid state: job \(job.id) has no request body")
                }
                let queued = job
                var job = job
                let now = self.context.time.now()
                self.context.machine.submissionStarted(&job, now: now)
                // The intent is durable before the POST leaves, and only for a POST about to leave
                // (everything it needs is already at hand): a crash from here on is an ambiguous
                // submission, never a silent second one. Concurrent intents share a transaction.
                // The spend reservation goes with it: the budget check and the intent are one
                // transaction, so concurrent submissions are counted one after another.
                let reservation = SpendReservation(job: job, at: now, budget: self.context.policy.budget)
                let committed: Bool
                do {
                    committed = try await self.context.commitHeld([.updateJob(job), .reserveSpend(reservation)])
                } catch let reached as BudgetReached {
                    self.holdForBudget(queued, reached, origin: origin)
                    return
                }
                self.budgetChecked(reserved: committed)
                guard committed else {
                    // Another daemon holds the job now; if it was the probe, another job probes.
                    if case .probe = origin {
                        self.state.withLock { $0.pause.probeWithdrawn(now: self.context.time.now()) }
                    }
                    self.dropLost()
                    return
                }
                try await self.submit(job, body: body, origin: origin)
            }
        }
    }

    private func submit(_ job: Job, body: [UInt8], origin: AuthenticationPause.Origin) async throws {
        var job = job
        let logger = context.logger(for: job)
        logger.debug("Submitting generation", metadata: ["attempt": "\(job.submitAttempts)"])
        let sentAt = context.time.now()
        // A lease about to run out sends nothing: the job goes back to the queue (if it is still
        // this daemon's), exactly as for a POST that never left.
        let exchange =
            context.ownership.mayAct()
            ? await api.submit(body: body, jobID: job.id)
            : .notSent(reason: "this daemon's lease on the shared store is running out")
        rateLimiter.requestFinished(exchange, sentAt: sentAt)
        generationLimit?.submissionAnswered(exchange, sentAt: sentAt)
        let now = context.time.now()
        var random = SystemRandomNumberGenerator()
        let action = context.machine.submissionFinished(&job, exchange: exchange, now: now, using: &random)
        // The pause hears of the answer at once, so that no more is sent after a refusal.
        let schedule = context.policy.authenticationPause
        let pauseAction = state.withLock { state in
            if case .pauseSubmissions(let reason) = action {
                return state.pause.refused(origin, reason: reason, now: now, schedule: schedule, using: &random)
            }
            return state.pause.accepted(origin)
        }
        report(pauseAction)
        switch action {
        case .poll(let at):
            guard try await context.commitHeld([.updateJob(job)]) else {
                // Another daemon holds the job now, but the generation exists and is paid for:
                // record the fact so that whoever holds the job polls it instead of losing it.
                if let generationID = job.generationID {
                    try await context.store.commit([
                        .recordLateGeneration(job.id, generationID: generationID, submittedAt: job.submittedAt ?? now)
                    ])
                }
                dropLost()
                return
            }
            context.logger(for: job).info(
                "Generation submitted",
                metadata: ["event": "job.submitted", "attempt": "\(job.submitAttempts)"]
            )
            polling.track(job, pollAt: at)
        case .enqueue(let at):
            guard try await context.commitHeld([.updateJob(job)]) else {
                dropLost()
                return
            }
            generationSlots.release()
            logger.notice(
                "Submission will be retried",
                metadata: ["retry.at": "\(at)", "reason": "\(describe(exchange))"]
            )
            enqueue(job, at: at)
        case .pauseSubmissions:
            guard try await context.commitHeld([.updateJob(job)]) else {
                dropLost()
                return
            }
            generationSlots.release()
            // First in line again: it is the next probe.
            state.withLock { $0.ready.prepend(job) }
        case .finish:
            generationSlots.release()
            do {
                try await finisher.finish(job)
                polling.downloads.storeIfAnnounced(job)
            } catch is LeaseLost {
                // Another daemon holds the job now and decides its end.
            }
        case .storeVideo(let at):
            // Finished already in the POST's answer.
            generationSlots.release()
            try await polling.downloads.begin(job, at: at)
        case .pausePolling:
            preconditionFailure("Invalid state: submission produced \(action)")
        }
        state.withLock { $0.inFlight -= 1 }
        wake.signal()
    }

    /// The budget refused `job`'s reservation: it goes back to the front of the queue, unchanged
    /// (not failed), and submissions stop until the hold's retry time. Logged when the limit that
    /// stops them changes, not at every retry.
    private func holdForBudget(_ job: Job, _ reached: BudgetReached, origin: AuthenticationPause.Origin) {
        let now = context.time.now()
        let previous = state.withLock { state -> BudgetHold? in
            // An authentication probe that was never sent: another job probes later.
            if case .probe = origin { state.pause.probeWithdrawn(now: now) }
            let previous = state.budgetHold
            state.budgetHold = BudgetHold(reached, now: now)
            state.ready.prepend(job)
            state.inFlight -= 1
            return previous
        }
        generationSlots.release(notifyingListeners: false)
        context.counters.update { $0.budgetReached = reached.description }
        if previous?.reached.limit != reached.limit {
            context.logger.error(
                "Budget reached; submissions stop and jobs stay queued",
                metadata: [
                    "event": "budget.reached", "budget.limit": "\(reached.limit.key)", "budget.detail": "\(reached)",
                    "resume.at": "\(reached.until?.iso8601 ?? "when the limit is raised")",
                ]
            )
        }
        wake.signal()
    }

    /// The retrying job's reservation went through (the hold is over) or was not made (its lease
    /// was lost: another job retries).
    private func budgetChecked(reserved: Bool) {
        let lifted = state.withLock { state -> BudgetHold? in
            guard let hold = state.budgetHold, hold.probing else { return nil }
            guard reserved else {
                state.budgetHold?.probing = false
                return nil
            }
            state.budgetHold = nil
            return hold
        }
        guard let lifted else { return }
        context.counters.update { $0.budgetReached = nil }
        context.logger.notice(
            "Budget allows submissions again",
            metadata: ["event": "budget.resumed", "budget.limit": "\(lifted.reached.limit.key)"]
        )
        wake.signal()
    }

    /// A job whose lease was lost while its submission was under way: give back its generation
    /// slot and forget it.
    private func dropLost() {
        generationSlots.release()
        state.withLock { $0.inFlight -= 1 }
        wake.signal()
    }

    /// Logs a change of the pause and shows it in the status line.
    private func report(_ action: AuthenticationPause.Action) {
        switch action {
        case .none:
            break
        case .pause(let until, let reason):
            context.metrics.apiPaused("submissions")
            context.counters.update { $0.submissionsPaused = reason }
            context.logger.error(
                "Submissions paused",
                metadata: ["event": "submissions.paused", "reason": "\(reason)", "resume.at": "\(until)"]
            )
        case .pauseAgain(let until, let reason, let failedProbes):
            context.counters.update { $0.submissionsPaused = reason }
            context.logger.warning(
                "Submissions still paused",
                metadata: ["reason": "\(reason)", "resume.at": "\(until)", "probes.refused": "\(failedProbes)"]
            )
        case .resume:
            context.counters.update { $0.submissionsPaused = nil }
            context.logger.notice("Submissions resumed", metadata: ["event": "submissions.resumed"])
        }
    }

    private func describe(_ exchange: APIExchange) -> String {
        switch exchange {
        case .response(let response): "HTTP \(response.statusCode): \(response.message)"
        case .notSent(let reason): "not sent: \(reason)"
        case .outcomeUnknown(let reason): "outcome unknown: \(reason)"
        }
    }
}
