import Logging
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// A refusal burst as the services see it: with eight requests in flight when the key is refused,
/// eight refusals make one pause, each pause lets exactly one probe out, and only a refused probe
/// lengthens the pause. (The pause lengths themselves: `AuthenticationPauseTests`.)
@Suite(.timeLimit(.minutes(1)))
struct AuthenticationPauseServiceTests {
    /// An API that holds the first `held` requests until all of them are in flight, refuses them
    /// together, refuses the next `refusedProbes` requests too, and then accepts; it records how
    /// many requests were in flight as each one arrived.
    final class RefusalBurst: Sendable {
        private struct State {
            var calls = 0
            var inFlight = 0
            var waiting: [CheckedContinuation<Void, Never>] = []
            var inFlightOnArrival: [Int] = []
        }

        private let state = Mutex(State())
        let held: Int
        let refusedProbes: Int

        init(held: Int, refusedProbes: Int) {
            self.held = held
            self.refusedProbes = refusedProbes
        }

        /// Requests in flight when each request arrived (itself included), in arrival order.
        var inFlightOnArrival: [Int] { state.withLock { $0.inFlightOnArrival } }

        func answer(otherwise accepted: APIExchange) async -> APIExchange {
            let number = state.withLock { state -> Int in
                state.calls += 1
                state.inFlight += 1
                state.inFlightOnArrival.append(state.inFlight)
                return state.calls
            }
            if number <= held {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let released = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                        state.waiting.append(continuation)
                        guard state.waiting.count == held else { return [] }
                        defer { state.waiting.removeAll() }
                        return state.waiting
                    }
                    for waiter in released { waiter.resume() }
                }
            }
            state.withLock { $0.inFlight -= 1 }
            if number <= held + refusedProbes {
                return ScriptedGenerationAPI.httpStatus(401, message: "This request requires a valid API key.")
            }
            return accepted
        }
    }

    static func messages(_ log: LogRecording, _ message: String) -> Int {
        log.entries.filter { $0.message == message }.count
    }

    @Test func eightRefusedSubmissionsMakeOnePauseAndEachPauseSendsOneProbe() async throws {
        let burst = RefusalBurst(held: 8, refusedProbes: 1)
        let api = ScriptedGenerationAPI(submit: { body, jobID, attempt in
            await burst.answer(otherwise: await ScriptedGenerationAPI.accepting(body, jobID, attempt))
        })
        let log = LogRecording()
        let harness = PipelineHarness(api: api, limits: Pipeline.Limits(maximumConcurrentRequests: 8), logger: log.logger())
        try await harness.run { harness in
            for index in 0..<20 {
                harness.spool.drop("\(index).json", bytes: TestRequests.seedance(jobID: "burst-\(index)"))
            }
            _ = try await harness.transport.attempts.collect(20)
        }
        let arrivals = burst.inFlightOnArrival
        #expect(arrivals.count == 20 + 8 + 1, "each job once, plus the 8 refused and 1 refused probe")
        #expect(arrivals.prefix(8).last == 8, "eight requests in flight when the key was refused")
        #expect(arrivals.dropFirst(8).prefix(2) == [1, 1], "each probe went out alone: \(arrivals)")
        #expect(Self.messages(log, "Submissions paused") == 1, "one pause for the whole episode")
        #expect(Self.messages(log, "Submissions still paused") == 1, "lengthened once, by the refused probe only")
        #expect(Self.messages(log, "Submissions resumed") == 1)
        #expect(harness.pipeline.status.submissionsPaused == nil)
        for index in 0..<20 {
            #expect(try await harness.store.job(JobID("burst-\(index)")!)?.phase == .completed)
        }
    }

    @Test func eightRefusedPollsMakeOnePauseAndEachPauseSendsOneProbe() async throws {
        let burst = RefusalBurst(held: 8, refusedProbes: 1)
        let completed = ScriptedGenerationAPI.completingAfter(polls: 1)
        let api = ScriptedGenerationAPI(status: { generationID, jobID, poll in
            await burst.answer(otherwise: await completed(generationID, jobID, poll))
        })
        let log = LogRecording()
        let harness = PipelineHarness(api: api, limits: Pipeline.Limits(maximumConcurrentRequests: 8), logger: log.logger())
        try await harness.run { harness in
            for index in 0..<8 {
                harness.spool.drop("\(index).json", bytes: TestRequests.seedance(jobID: "polled-\(index)"))
            }
            _ = try await harness.transport.attempts.collect(8)
        }
        let arrivals = burst.inFlightOnArrival
        #expect(arrivals.count == 8 + 8 + 1, "each job polled to completion once, plus the 8 refused and 1 refused probe")
        #expect(arrivals.prefix(8).last == 8, "eight polls in flight when the key was refused")
        #expect(arrivals.dropFirst(8).prefix(2) == [1, 1], "each probe went out alone: \(arrivals)")
        #expect(Self.messages(log, "Polling paused") == 1, "one pause for the whole episode")
        #expect(Self.messages(log, "Polling still paused") == 1, "lengthened once, by the refused probe only")
        #expect(Self.messages(log, "Polling resumed") == 1)
        #expect(harness.pipeline.status.pollingPaused == nil)
        for index in 0..<8 {
            #expect(try await harness.store.job(JobID("polled-\(index)")!)?.phase == .completed)
        }
    }
}
