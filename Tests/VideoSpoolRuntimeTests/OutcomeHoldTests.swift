import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// A finished job's outcome file waits (up to a second) for its webhooks' first attempts, whose
/// answers would rewrite it moments later: one write per job instead of two, with the result.
@Suite(.timeLimit(.minutes(1)))
struct OutcomeHoldTests {
    /// A webhook receiver that answers only once the test lets it.
    final class Gate: Sendable {
        private let open = Mutex<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        func pass() async {
            await withCheckedContinuation { continuation in
                let proceed = open.withLock { state -> Bool in
                    if state.isOpen { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if proceed { continuation.resume() }
            }
        }

        func openUp() {
            for waiter in open.withLock({ state in defer { state.waiters = [] }; state.isOpen = true; return state.waiters }) {
                waiter.resume()
            }
        }
    }

    static func deliveryState(_ document: [UInt8]?) throws -> String? {
        guard let document else { return nil }
        return try JSONParser().parse(document)["deliveries"]?.arrayValue?.first?["state"]?.stringValue
    }

    @Test func aFileWaitsForTheFirstWebhookAttemptAndIsWrittenOnceWithItsResult() async throws {
        let gate = Gate()
        let log = LogRecording()
        // A hold longer than the test: only the attempt's answer can end it.
        var policy = PipelineHarness.fastPolicy
        policy.outcomeHold = .seconds(3600)
        let harness = PipelineHarness(
            transport: RecordingWebhookTransport { _ in
                await gate.pass()
                return .response(statusCode: 204, retryAfter: nil, location: nil)
            },
            policy: policy,
            logger: log.logger()
        )
        let id = JobID("held")!
        let writes = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "held"))
            try await log.wait(for: "the file put off") { $0.contains { $0["event"] == "outcome.held" } }
            #expect(harness.spool.doneFiles[id] == nil)
            gate.openUp()
            var states: [String?] = []
            for await written in harness.spool.outcomeWrites where written == id {
                states.append(try Self.deliveryState(harness.spool.doneFiles[id]))
                break
            }
            return states
        }
        #expect(writes == ["delivered"], "the first write already shows the delivery")
    }

    @Test func aSlowReceiverDelaysTheFileOnlyByTheGrace() async throws {
        let gate = Gate()
        let harness = PipelineHarness(
            transport: RecordingWebhookTransport { _ in
                await gate.pass()
                return .response(statusCode: 204, retryAfter: nil, location: nil)
            }
        )
        let id = JobID("slow-receiver")!
        let first = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "slow-receiver"))
            var state: String?
            for await written in harness.spool.outcomeWrites where written == id {
                state = try Self.deliveryState(harness.spool.doneFiles[id])
                break
            }
            gate.openUp()
            return state
        }
        #expect(first == "pending", "written while the webhook still waits for its answer")
    }

    /// Recording that a file was written costs no commit of its own: it waits for the next one
    /// (a crash loses at most the record, and the next start rewrites the file).
    @Test func aWrittenFileIsRecordedWithTheNextCommit() async throws {
        let harness = PipelineHarness()
        let first = JobID("first")!
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "first", callbackURL: nil))
            _ = try await harness.spool.outcomeWrites.collect(1) { $0 == first }
            try await eventually("the record waits for the next commit") { harness.store.riderCount > 0 }
            let commits = harness.store.commitCount
            #expect(try await harness.store.recover().staleOutcomes.contains(first), "not recorded yet")
            harness.spool.drop("b.json", bytes: TestRequests.seedance(jobID: "second", callbackURL: nil))
            try await eventually("the next commit carried it") { harness.store.riderCount == 0 }
            #expect(harness.store.commitCount > commits)
            #expect(try await !harness.store.recover().staleOutcomes.contains(first))
        }
    }
}
