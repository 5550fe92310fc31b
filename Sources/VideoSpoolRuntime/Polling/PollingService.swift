import Logging
public import ServiceLifecycle
import Synchronization
public import VideoSpoolCore

/// Polls generations on their schedule with one timer for all of them. A poll that says "still
/// running" changes nothing durable (the next start polls again anyway), so it costs no write.
/// After a 401, 403 or 3xx, pauses all polls and probes with one until the API accepts again
/// (``AuthenticationPause``); no generation is given up meanwhile.
public final class PollingService: Service, Sendable {
    private struct State {
        var jobs: [JobID: Job] = [:]
        var timers = TimerQueue<JobID>()
        var pause = AuthenticationPause()
        var stopping = false
    }

    private let context: PipelineContext
    private let api: any GenerationAPI
    private let requestSlots: RequestSlots
    private let generationSlots: RequestSlots
    private let rateLimiter: APIRateLimiter
    private let finisher: JobFinisher
    /// Where completed generations go when their videos are stored before the announcement.
    let downloads: DownloadService
    private let state = Mutex(State())
    private let wake = WakeSignal()

    public init(
        context: PipelineContext,
        api: any GenerationAPI,
        requestSlots: RequestSlots,
        generationSlots: RequestSlots,
        rateLimiter: APIRateLimiter,
        finisher: JobFinisher,
        downloads: DownloadService
    ) {
        self.context = context
        self.downloads = downloads
        self.api = api
        self.requestSlots = requestSlots
        self.generationSlots = generationSlots
        self.rateLimiter = rateLimiter
        self.finisher = finisher
        requestSlots.notifyOnRelease(wake)
    }

    /// Starts polling a generating job (its generation slot is already held).
    public func track(_ job: Job, pollAt: Timestamp) {
        state.withLock { state in
            state.jobs[job.id] = job
            state.timers.schedule(job.id, at: pollAt)
        }
        wake.signal()
    }

    public var generatingCount: Int { state.withLock { $0.jobs.count } }

    /// Why polls are paused, if they are.
    public var pausedReason: String? { state.withLock { $0.pause.reason } }

    /// Stops polling a job (an operator canceled it) and gives back its generation slot. A job
    /// whose poll is on the wire right now is `busy`: its answer may finish it, so ask again.
    public func withdraw(_ id: JobID) -> Withdrawal {
        let result = state.withLock { state -> Withdrawal in
            guard let job = state.jobs[id] else { return .notHere }
            guard state.timers.contains(id) else { return .busy }
            state.timers.cancel(id)
            state.jobs[id] = nil
            return .withdrawn(job)
        }
        if case .withdrawn = result { generationSlots.release() }
        return result
    }

    /// Stops polling every job (this daemon's lease is gone) and gives back their generation slots;
    /// a poll on the wire gives its slot back when it returns and finds its job gone. Returns how
    /// many jobs were dropped.
    func abandonAll() -> Int {
        let (dropped, idle) = state.withLock { state -> (Int, Int) in
            let busy = state.jobs.keys.filter { !state.timers.contains($0) }.count
            let count = state.jobs.count
            state.jobs.removeAll()
            state.timers = TimerQueue()
            return (count, count - busy)
        }
        if idle > 0 { generationSlots.release(idle) }
        return dropped
    }

    /// Forgets a job whose poll just returned, if it was abandoned meanwhile or may no longer be
    /// acted on; gives back its generation slot. Returns whether it was.
    private func dropIfAbandoned(_ job: Job) -> Bool {
        let tracked = state.withLock { $0.jobs[job.id] != nil }
        guard !tracked || !context.ownership.mayAct() else { return false }
        state.withLock { _ = $0.jobs.removeValue(forKey: job.id) }
        generationSlots.release()
        return true
    }

    public func run() async throws {
        try await context.runServiceLoop(
            .polling,
            wake: wake,
            stopping: { self.state.withLock { $0.stopping = true } },
            next: nextStep,
            perform: { _, group in await pollDue(in: &group) }
        )
    }

    /// Starts the poll of the job due first, when a request slot and the rate limiter allow.
    private func pollDue(in group: inout ThrowingDiscardingTaskGroup<any Error>) async {
        // Never block on a slot: the loop must keep beating while requests are slow.
        guard requestSlots.tryAcquire() else {
            await context.idle(.polling, on: wake, until: nil)
            return
        }
        if case .wait(let until) = rateLimiter.admit(.poll) {
            requestSlots.release(notifyingListeners: false)
            await context.idle(.polling, on: wake, until: until)
            return
        }
        guard let taken = takeDueJob() else {
            rateLimiter.unused()
            requestSlots.release(notifyingListeners: false)
            return
        }
        group.addTask {
            defer { self.requestSlots.release() }
            try await self.poll(taken.job, origin: taken.origin)
        }
    }

    /// `.work` when a poll is due.
    private func nextStep() -> ServiceLoopStep<Void> {
        let now = context.time.now()
        return state.withLock { state -> ServiceLoopStep<Void> in
            if state.stopping || Task.isCancelled { return .stop }
            // Paused: wait for the pause to run out, or for the probe's answer (a wake signal).
            if case .closed(let until) = state.pause.admission(now: now) { return .wait(until: until) }
            guard let due = state.timers.nextDue() else { return .wait(until: nil) }
            return due <= now ? .work(()) : .wait(until: due)
        }
    }

    /// The next due job, and the origin its answer is reported to the pause with: while paused,
    /// only the probe, once the pause has run out.
    private func takeDueJob() -> (job: Job, origin: AuthenticationPause.Origin)? {
        let now = context.time.now()
        return state.withLock { state -> (job: Job, origin: AuthenticationPause.Origin)? in
            let origin: AuthenticationPause.Origin
            switch state.pause.admission(now: now) {
            case .closed: return nil
            case .probeDue: origin = .probe
            case .open(let regular): origin = regular
            }
            guard let id = state.timers.popDue(now: now, limit: 1).first, let job = state.jobs[id] else { return nil }
            if origin == .probe { state.pause.probeSent() }
            return (job: job, origin: origin)
        }
    }

    private func poll(_ job: Job, origin: AuthenticationPause.Origin) async throws {
        var job = job
        guard let generationID = job.generationID else {
            preconditionFailure("Invalid state: generating job \(job.id) has no generation id")
        }
        if dropIfAbandoned(job) {
            // Never sent: if it was to be the probe, the next poll probes instead.
            if origin == .probe { state.withLock { $0.pause.probeWithdrawn(now: context.time.now()) } }
            wake.signal()
            return
        }
        let sentAt = context.time.now()
        let exchange = await api.status(of: generationID, jobID: job.id)
        rateLimiter.requestFinished(exchange, sentAt: sentAt)
        let now = context.time.now()
        var random = SystemRandomNumberGenerator()
        let action = context.machine.pollFinished(&job, exchange: exchange, now: now, using: &random)
        let logger = context.logger(for: job)
        let schedule = context.policy.authenticationPause
        if dropIfAbandoned(job) {
            // The job is no longer this daemon's, but what the API said of the key still counts.
            let pauseAction = state.withLock { state in
                if case .pausePolling(let reason) = action {
                    return state.pause.refused(origin, reason: reason, now: now, schedule: schedule, using: &random)
                }
                return state.pause.accepted(origin)
            }
            report(pauseAction)
            wake.signal()
            return
        }
        switch action {
        case .poll(let at):
            logger.debug(
                "Generation still running",
                metadata: ["upstream.status": "\(job.upstreamStatus ?? "-")", "poll.next": "\(at)"]
            )
            let pauseAction = state.withLock { state in
                state.jobs[job.id] = job
                state.timers.schedule(job.id, at: at)
                return state.pause.accepted(origin)
            }
            report(pauseAction)
        case .pausePolling(let reason):
            let pauseAction = state.withLock { state in
                // Due again at once: polled when the pause lets polls through (maybe as the probe).
                state.jobs[job.id] = job
                state.timers.schedule(job.id, at: now)
                return state.pause.refused(origin, reason: reason, now: now, schedule: schedule, using: &random)
            }
            report(pauseAction)
        case .finish:
            let pauseAction = state.withLock { state in
                state.jobs[job.id] = nil
                return state.pause.accepted(origin)
            }
            report(pauseAction)
            generationSlots.release()
            do {
                try await finisher.finish(job)
                downloads.storeIfAnnounced(job)
            } catch is LeaseLost {
                // Another daemon holds the job now; it polls again and finishes it there.
            }
        case .storeVideo(let at):
            let pauseAction = state.withLock { state in
                state.jobs[job.id] = nil
                return state.pause.accepted(origin)
            }
            report(pauseAction)
            generationSlots.release()
            try await downloads.begin(job, at: at)
        case .enqueue, .pauseSubmissions:
            preconditionFailure("Invalid state: poll produced \(action)")
        }
        wake.signal()
    }

    /// Logs a change of the pause.
    private func report(_ action: AuthenticationPause.Action) {
        switch action {
        case .none:
            break
        case .pause(let until, let reason):
            context.metrics.apiPaused("polling")
            context.logger.error(
                "Polling paused",
                metadata: ["event": "polling.paused", "reason": "\(reason)", "resume.at": "\(until)"]
            )
        case .pauseAgain(let until, let reason, let failedProbes):
            context.logger.warning(
                "Polling still paused",
                metadata: ["reason": "\(reason)", "resume.at": "\(until)", "probes.refused": "\(failedProbes)"]
            )
        case .resume:
            context.logger.notice("Polling resumed", metadata: ["event": "polling.resumed"])
        }
    }
}
