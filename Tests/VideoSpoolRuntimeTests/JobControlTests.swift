import Logging
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

struct JobControlTests {
    /// A daemon that stops during a prune (the control service cancels the operation) ends it
    /// between batches and says the work is incomplete, instead of failing without an answer.
    @Test(.timeLimit(.minutes(1)))
    func aPruneInterruptedByCancellationSaysHowFarItGot() async throws {
        let control = JobControl(
            store: InMemoryJobStore(),
            spool: InMemorySpoolDirectory(),
            time: SystemTimeSource(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let interrupted = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await control.prune(before: SystemTimeSource().now())
        }
        let result = try await interrupted.value
        #expect(!result.complete)
        #expect(result.jobs.isEmpty)
        #expect(result.message.contains("pruned 0") && result.message.contains("interrupted"), "\(result.message)")

        let whole = try await control.prune(before: SystemTimeSource().now())
        #expect(whole.complete)
        #expect(!whole.message.contains("interrupted"))
    }

    /// A job whose POST is on the wire cannot be taken until the answer is in: the cancel waits for
    /// that answer (not for a timer), then takes the job from the polling queue.
    @Test(.timeLimit(.minutes(1)))
    func aCancelOfAJobOnTheWireWaitsForItsAnswerThenTakesIt() async throws {
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        let api = ScriptedGenerationAPI(submit: { body, jobID, attempt in
            for await _ in gate { break }
            return await ScriptedGenerationAPI.accepting(body, jobID, attempt)
        }, status: { generationID, _, _ in ScriptedGenerationAPI.status(generationID, "generating") })
        let harness = PipelineHarness(api: api)
        let id = JobID("on-the-wire")!
        let result = try await harness.run { harness in
            harness.spool.drop("on-the-wire.json", bytes: TestRequests.seedance(jobID: "on-the-wire"))
            _ = try await harness.api.calls.collect(1)
            let control = JobControl(pipeline: harness.pipeline, spool: harness.spool)
            let cancel = Task { try await control.cancel(id) }
            try await eventually("the cancel waits for the answer") {
                harness.pipeline.requestSlots.releases.waiterCount == 1
            }
            open.yield()
            return try await cancel.value
        }
        #expect(result.jobs == ["on-the-wire"])
        #expect(try await harness.store.job(id)?.phase == .canceled)
        #expect(harness.api.submitCount == 1)
    }
}

/// Stored videos that retention was asked to delete.
private final class RecordingVideoFiles: StoredVideoFiles, Sendable {
    private let removed = Mutex<[JobID]>([])

    var removedJobs: [JobID] { removed.withLock { $0 } }

    func removeStoredVideo(jobID: JobID) async throws {
        removed.withLock { $0.append(jobID) }
    }
}

struct PruneStoredVideosTests {
    @Test(.timeLimit(.minutes(1)))
    func pruningACompletedJobDeletesItsStoredVideo() async throws {
        let harness = PipelineHarness()
        let id = JobID("job-a")!
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            _ = try await harness.transport.attempts.collect(1)
            try await eventually("the delivery settled") {
                try await harness.store.outcome(for: id)?.deliveries.allSatisfy { $0.state == .delivered } == true
            }
        }
        let videos = RecordingVideoFiles()
        let control = JobControl(
            store: harness.store,
            spool: harness.spool,
            time: SystemTimeSource(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            videos: videos
        )
        let result = try await control.prune(before: SystemTimeSource().now() + .seconds(1))
        #expect(result.jobs == ["job-a"])
        #expect(videos.removedJobs == [id])
        #expect(try await harness.store.job(id) == nil)
    }
}
