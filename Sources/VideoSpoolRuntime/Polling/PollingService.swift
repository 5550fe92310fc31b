import Logging
public import ServiceLifecycle
import Synchronization
public import VideoSpoolCore

/// Polls generations on their schedule with one timer for all of them. A poll that says "still
/// running" changes nothing durable (the next start polls again anyway), so it costs no write.
public final class PollingService: Service, Sendable {
    private struct State {
        var jobs: [JobID: Job] = [:]
        var timers = TimerQueue<JobID>()
        var pausedUntil: Timestamp?
        var pauseCount = 0
        var stopping = false
    }

    private let context: PipelineContext
    private let api: any GenerationAPI
    private let requestSlots: RequestSlots
    private let generationSlots: RequestSlots
    private let rateLimiter: APIRateLimiter
    private let finisher: JobFinisher
    private let state = Mutex(State())
    private let wake = WakeSignal()

    public init(
        context: PipelineContext,
        api: any GenerationAPI,
        requestSlots: RequestSlots,
        generationSlots: RequestSlots,
        rateLimiter: APIRateLimiter,
        finisher: JobFinisher
    ) {
        self.context = context
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
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                while true {
                    switch nextStep() {
                    case .stop:
                        return
                    case .wait(let deadline):
                        await context.idle(.polling, on: wake, until: deadline)
                    case .pollDue:
                        context.heartbeats.beat(.polling, at: context.time.now())
                        // Never block on a slot: the loop must keep beating while requests are slow.
                        guard requestSlots.tryAcquire() else {
                            await context.idle(.polling, on: wake, until: nil)
                            continue
                        }
                        if case .wait(let until) = rateLimiter.admit(.poll) {
                            requestSlots.release(notifyingListeners: false)
                            await context.idle(.polling, on: wake, until: until)
                            continue
                        }
                        guard let job = takeDueJob() else {
                            rateLimiter.unused()
                            requestSlots.release(notifyingListeners: false)
                            continue
                        }
                        group.addTask {
                            defer { self.requestSlots.release() }
                            try await self.poll(job)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.stopping = true }
            self.wake.signal()
        }
    }

    private enum Step {
        case stop
        case wait(until: Timestamp?)
        case pollDue
    }

    private func nextStep() -> Step {
        let now = context.time.now()
        return state.withLock { state -> Step in
            if state.stopping || Task.isCancelled { return .stop }
            if let pausedUntil = state.pausedUntil {
                if now < pausedUntil { return .wait(until: pausedUntil) }
                state.pausedUntil = nil
            }
            guard let due = state.timers.nextDue() else { return .wait(until: nil) }
            return due <= now ? .pollDue : .wait(until: due)
        }
    }

    private func takeDueJob() -> Job? {
        let now = context.time.now()
        return state.withLock { state -> Job? in
            guard state.pausedUntil == nil, let id = state.timers.popDue(now: now, limit: 1).first else { return nil }
            return state.jobs[id]
        }
    }

    private func poll(_ job: Job) async throws {
        var job = job
        guard let generationID = job.generationID else {
            preconditionFailure("Invalid state: generating job \(job.id) has no generation id")
        }
        if dropIfAbandoned(job) { return }
        let sentAt = context.time.now()
        let exchange = await api.status(of: generationID, jobID: job.id)
        rateLimiter.requestFinished(exchange, sentAt: sentAt)
        if dropIfAbandoned(job) { return }
        let now = context.time.now()
        var random = SystemRandomNumberGenerator()
        let pauseCount = state.withLock { $0.pauseCount }
        let action = context.machine.pollFinished(
            &job,
            exchange: exchange,
            now: now,
            pauseCount: pauseCount,
            using: &random
        )
        let logger = context.logger(for: job)
        switch action {
        case .poll(let at):
            logger.debug(
                "Generation still running",
                metadata: ["upstream.status": "\(job.upstreamStatus ?? "-")", "poll.next": "\(at)"]
            )
            state.withLock { state in
                state.jobs[job.id] = job
                state.timers.schedule(job.id, at: at)
                if case .response(let response) = exchange, (200..<300).contains(response.statusCode) {
                    state.pauseCount = 0
                }
            }
        case .pausePolling(let until, let reason):
            let first = state.withLock { state -> Bool in
                let first = state.pausedUntil == nil && state.pauseCount == 0
                state.pausedUntil = max(state.pausedUntil ?? until, until)
                state.pauseCount += 1
                state.jobs[job.id] = job
                state.timers.schedule(job.id, at: until)
                return first
            }
            if first {
                context.logger.error(
                    "Polling paused",
                    metadata: ["event": "polling.paused", "reason": "\(reason)", "resume.at": "\(until)"]
                )
            }
        case .finish:
            state.withLock { state in
                state.jobs[job.id] = nil
                state.pauseCount = 0
            }
            generationSlots.release()
            do {
                try await finisher.finish(job)
            } catch is LeaseLost {
                // Another daemon holds the job now; it polls again and finishes it there.
            }
        case .enqueue, .pauseSubmissions:
            preconditionFailure("Invalid state: poll produced \(action)")
        }
        wake.signal()
    }
}
