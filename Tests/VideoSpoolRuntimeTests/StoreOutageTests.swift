import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// A store that cannot be written (a full disk), as the pipeline sees it: commits wait, the loop
/// waiting in one counts as alive only because the store says it is unavailable, the status says
/// why, and the work goes on when the store is back.
@Suite(.timeLimit(.minutes(1)))
struct StoreOutageTests {
    @Test func theIntakeWaitsInItsCommitAsALiveLoopAndTheStatusSaysWhy() async throws {
        let harness = PipelineHarness()
        try await harness.run { harness in
            harness.store.setAvailability(.unavailable(reason: "disk full", since: Timestamp(millisecondsSinceEpoch: 0)))
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "waiting"))
            _ = try await harness.store.waitingCommits().collect(1)

            let status = harness.pipeline.status
            #expect(status.storeUnavailable == "disk full")
            #expect(status.description.hasSuffix("rejected; store unavailable: disk full"), "\(status)")

            // Long after its last beat, the intake is alive only while the store says it waits.
            let heartbeats = harness.pipeline.context.heartbeats
            let muchLater = SystemTimeSource().now() + .seconds(3600)
            #expect(!heartbeats.stale(now: muchLater, maximumAge: .seconds(1), storeUnavailable: true).contains(.intake))
            #expect(heartbeats.stale(now: muchLater, maximumAge: .seconds(1), storeUnavailable: false).contains(.intake))

            harness.store.setAvailability(.available)
            _ = try await harness.transport.attempts.collect(1)
            #expect(harness.pipeline.status.storeUnavailable == nil)
        }
        #expect(try await harness.store.job(JobID("waiting")!)?.phase == .completed)
    }
}
