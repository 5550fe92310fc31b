import Logging
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// Time that stands still unless a test moves it.
final class ManualTime: TimeSource {
    private let current: Mutex<Timestamp>

    init(_ start: Timestamp = Timestamp(secondsSinceEpoch: 1_795_598_593)) {
        current = Mutex(start)
    }

    func now() -> Timestamp { current.withLock { $0 } }
    func advance(_ duration: Duration) { current.withLock { $0 = $0 + duration } }
    func sleep(until deadline: Timestamp) async throws { try await Task.sleep(for: .seconds(3600)) }
}

/// An upstream with a concurrency limit of its own, as the real API has: a request that arrives
/// while `limit` are being answered gets 429.
final class ConcurrencyWall: Sendable {
    private struct State {
        var limit: Int?
        var inFlight = 0
        var refused = 0
        var peak = 0
    }

    private let state: Mutex<State>

    init(limit: Int?) {
        state = Mutex(State(limit: limit))
    }

    var refused: Int { state.withLock { $0.refused } }
    var peak: Int { state.withLock { $0.peak } }
    func lift() { state.withLock { $0.limit = nil } }

    /// Answers through `answer` if there is room, else 429. The sleep models the API's service time
    /// (without it nothing would ever be in flight together); no test waits on it.
    func serve(_ answer: () async -> APIExchange) async -> APIExchange {
        let admitted = state.withLock { state -> Bool in
            if let limit = state.limit, state.inFlight >= limit {
                state.refused += 1
                return false
            }
            state.inFlight += 1
            state.peak = max(state.peak, state.inFlight)
            return true
        }
        guard admitted else { return ScriptedGenerationAPI.httpStatus(429, message: "Too Many Requests") }
        try? await Task.sleep(for: .milliseconds(5))
        let exchange = await answer()
        state.withLock { $0.inFlight -= 1 }
        return exchange
    }
}

@Suite(.timeLimit(.minutes(1)))
struct RateLimitTests {
    // MARK: - The gate

    @Test func a429BurstLowersTheRequestSlotsOnceAndSuccessesRestoreThem() {
        let time = ManualTime()
        let slots = RequestSlots(limit: 8)
        let log = LogRecording()
        let limiter = APIRateLimiter(
            requestsPerSecond: 100,
            maximumConcurrency: 8,
            slots: slots,
            time: time,
            logger: log.logger()
        )
        let sentAt = time.now()
        time.advance(.milliseconds(20))
        // Eight requests in flight together all meet the limit: one decrease.
        for _ in 0..<8 { limiter.requestFinished(ScriptedGenerationAPI.httpStatus(429), sentAt: sentAt) }
        #expect(slots.limit == 4)
        #expect(limiter.status.concurrencyLimit == 4)
        var successes = 0
        while slots.limit < 8 && successes < 200 {
            limiter.requestFinished(ScriptedGenerationAPI.status("g", "generating"), sentAt: time.now())
            successes += 1
        }
        #expect(slots.limit == 8)
        #expect(successes == 4 + 5 + 6 + 4 * 7)
        let notices = log.entries.filter { $0.level == .notice }.map { $0["event"] ?? "-" }
        #expect(notices == ["api.concurrency.reduced", "api.concurrency.recovered"])
    }

    @Test func aRetryAfterHoldsPollsAndSubmissionsAlike() {
        let time = ManualTime()
        let log = LogRecording()
        let limiter = APIRateLimiter(
            requestsPerSecond: 100,
            maximumConcurrency: 8,
            slots: RequestSlots(limit: 8),
            time: time,
            logger: log.logger()
        )
        let refusal = APIExchange.response(APIResponse(statusCode: 429, retryAfter: .seconds(2)))
        limiter.requestFinished(refusal, sentAt: time.now())
        let until = time.now() + .seconds(2)
        #expect(limiter.admit(.poll) == .wait(until: until))
        #expect(limiter.admit(.submission) == .wait(until: until))
        time.advance(.seconds(2))
        #expect(limiter.admit(.submission) == .granted)
        #expect(log.entries.filter { $0["event"] == "api.requests.held" }.count == 1)
    }

    @Test func aReloadKeepsAReducedLimitReduced() {
        let time = ManualTime()
        let slots = RequestSlots(limit: 8)
        let limiter = APIRateLimiter(
            requestsPerSecond: 100,
            maximumConcurrency: 8,
            slots: slots,
            time: time,
            logger: LogRecording().logger()
        )
        limiter.reconfigure(requestsPerSecond: 100, maximumConcurrency: 12)
        #expect(slots.limit == 12)
        limiter.requestFinished(ScriptedGenerationAPI.httpStatus(429), sentAt: time.now())
        #expect(slots.limit == 6)
        limiter.reconfigure(requestsPerSecond: 50, maximumConcurrency: 16)
        #expect(slots.limit == 6)
        #expect(limiter.status.maximumConcurrency == 16)
    }

    // MARK: - The pipeline against a limited API

    @Test func aBurstAgainstAConcurrencyLimitCompletesEveryJobWithFew429sAndThenRecovers() async throws {
        let wall = ConcurrencyWall(limit: 5)
        let api = ScriptedGenerationAPI(
            submit: { body, jobID, attempt in
                await wall.serve { await ScriptedGenerationAPI.accepting(body, jobID, attempt) }
            },
            status: { generationID, jobID, poll in
                await wall.serve { await ScriptedGenerationAPI.completingAfter(polls: 1)(generationID, jobID, poll) }
            }
        )
        let log = LogRecording()
        let harness = PipelineHarness(
            api: api,
            limits: Pipeline.Limits(maximumConcurrentRequests: 8, maximumInFlightGenerations: 200),
            logger: log.logger(level: .notice)
        )
        let jobs = 100
        let (refused, limitAfterBurst, recoveryRounds) = try await harness.run { harness in
            for index in 0..<jobs {
                harness.spool.drop("burst-\(index).json", bytes: TestRequests.seedance(jobID: "burst-\(index)"))
            }
            _ = try await harness.transport.attempts.collect(jobs)
            let refused = wall.refused
            let limitAfterBurst = harness.pipeline.rateLimiter.status.concurrencyLimit
            // The API stops refusing: more work brings the limit back to the maximum.
            wall.lift()
            var rounds = 0
            while harness.pipeline.rateLimiter.status.concurrencyLimit < 8 && rounds < 20 {
                rounds += 1
                for index in 0..<10 {
                    let id = "after-\(rounds)-\(index)"
                    harness.spool.drop(id + ".json", bytes: TestRequests.seedance(jobID: id))
                }
                _ = try await harness.transport.attempts.collect(10)
            }
            return (refused, limitAfterBurst, rounds)
        }
        for index in 0..<jobs {
            let job = try #require(try await harness.store.job(JobID("burst-\(index)")!))
            #expect(job.phase == .completed, "burst-\(index): \(job.phase) \(job.failure?.message ?? "")")
        }
        #expect(refused > 0, "the burst met the limit")
        #expect(refused <= jobs / 4, "\(refused) 429s for \(jobs) jobs")
        // The limit may already have grown back by the time the burst is over on a slow machine, so
        // the reduction is checked through its notice (below), not through `limitAfterBurst`.
        _ = limitAfterBurst
        #expect(harness.pipeline.rateLimiter.status.concurrencyLimit == 8, "recovered in \(recoveryRounds) rounds")
        let events = log.entries.compactMap { $0["event"] }
        let reductions = events.filter { $0 == "api.concurrency.reduced" }.count
        #expect(reductions >= 1 && reductions <= refused, "one notice per change, not per request")
        // Full recovery is logged once per recovery. The 429s to submissions also lower the
        // generations in flight, which eases the load, so the limit may recover (and meet the wall
        // again) during the burst as well as after it.
        let recoveries = events.filter { $0 == "api.concurrency.recovered" }.count
        #expect(recoveries >= 1 && recoveries <= reductions, "\(recoveries) recoveries, \(reductions) reductions")
    }

    @Test func aRetryAfterOnOnePollDelaysTheNextSubmissionOfAnotherJob() async throws {
        let clock = ContinuousClock()
        let refusedAt = Mutex<ContinuousClock.Instant?>(nil)
        let api = ScriptedGenerationAPI(
            status: { generationID, jobID, poll in
                let first = refusedAt.withLock { at -> Bool in
                    guard at == nil else { return false }
                    at = clock.now
                    return true
                }
                if first { return .response(APIResponse(statusCode: 429, retryAfter: .seconds(1))) }
                return await ScriptedGenerationAPI.completingAfter(polls: 1)(generationID, jobID, poll)
            }
        )
        let harness = PipelineHarness(api: api)
        let submittedAt = try await harness.run { harness in
            var calls = harness.api.calls.makeAsyncIterator()
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "a"))
            // Job a is submitted, then polled: that poll is refused with Retry-After: 1.
            while let call = await calls.next(), call.kind == .submit {}
            harness.spool.drop("b.json", bytes: TestRequests.seedance(jobID: "b"))
            while let call = await calls.next() {
                if call.kind == .submit && call.jobID == JobID("b")! { return clock.now }
            }
            return clock.now
        }
        let refused = try #require(refusedAt.withLock { $0 })
        // Timestamps have millisecond precision; allow for the rounding.
        #expect(submittedAt - refused >= .milliseconds(990), "job b waited for the hold job a got")
    }
}
