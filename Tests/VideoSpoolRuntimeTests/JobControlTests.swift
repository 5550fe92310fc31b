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

    static func control(_ store: InMemoryJobStore) -> JobControl {
        JobControl(
            store: store,
            spool: InMemorySpoolDirectory(),
            time: SystemTimeSource(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// Finished jobs `ids`, in arrival order, that ended at `start` plus the given seconds.
    static func finished(_ ends: [(String, Int)], in store: InMemoryJobStore, start: Timestamp) async throws {
        for (id, seconds) in ends {
            var job = Job(
                id: JobID(id)!,
                phase: .queued,
                model: "m",
                callbackURLs: [],
                metadata: nil,
                acceptedAt: start,
                sourceName: id + ".json",
                parameters: GenerationParameters()
            )
            let source = SourceFile(name: job.sourceName, sha256: id, disposition: .remove)
            try await store.commit([.insertJob(job, requestBody: [], source: source), .sourceSettled(job.id)])
            job.phase = .completed
            job.finishedAt = start + .seconds(seconds)
            try await store.commit([.updateJob(job)])
        }
    }

    /// The answer counts the deleted jobs; their ids go, batch by batch and oldest first, to the
    /// progress report only (a prune of 300,000 jobs must not answer with 300,000 ids).
    @Test func aPruneAnswersWithACountAndReportsEachBatchOldestFirst() async throws {
        let store = InMemoryJobStore()
        let start = Timestamp(secondsSinceEpoch: 1_800_000_000)
        try await Self.finished([("e", 50), ("a", 10), ("d", 40), ("b", 20), ("c", 30), ("late", 500)], in: store, start: start)
        let batches = Batches()
        let result = try await Self.control(store).prune(before: start + .seconds(100), batchSize: 2) { batch, total in
            batches.value.withLock { $0.append((batch.map(\.rawValue), total)) }
        }
        #expect(result.complete)
        #expect(result.pruned == 5)
        #expect(result.jobs.isEmpty)
        #expect(result.message.hasPrefix("pruned 5 finished job(s)"), "\(result.message)")
        let reported = batches.value.withLock { $0 }
        #expect(reported.map(\.0) == [["a", "b"], ["c", "d"], ["e"]])
        #expect(reported.map(\.1) == [2, 4, 5])
        #expect(try await store.containsJob(JobID("late")!))
        #expect(try await !store.containsJob(JobID("a")!))
    }

    /// A stop (cancellation) during a prune takes effect at the next batch: the batch in hand is
    /// finished, the rest stays, and the answer says how far it got.
    @Test func aPruneStopsAtTheNextBatchWhenCancelled() async throws {
        let store = InMemoryJobStore()
        let start = Timestamp(secondsSinceEpoch: 1_800_000_000)
        try await Self.finished((0..<7).map { ("j\($0)", $0) }, in: store, start: start)
        let control = Self.control(store)
        let result = try await Task {
            try await control.prune(before: start + .seconds(100), batchSize: 3) { _, _ in
                withUnsafeCurrentTask { $0?.cancel() }
            }
        }.value
        #expect(!result.complete)
        #expect(result.pruned == 3)
        #expect(result.message.contains("pruned 3") && result.message.contains("interrupted"), "\(result.message)")
        #expect(try await store.finishedJobs(before: start + .seconds(100), limit: 10).map(\.id.rawValue) == ["j3", "j4", "j5", "j6"])
    }
}

/// What a prune reported, batch by batch: the ids and the running total.
private final class Batches: Sendable {
    let value = Mutex<[([String], Int)]>([])
}

/// Stored videos that retention was asked to delete.
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
        let videos = RecordingStoredVideoFiles()
        let control = JobControl(
            store: harness.store,
            spool: harness.spool,
            time: SystemTimeSource(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            videos: videos
        )
        let result = try await control.prune(before: SystemTimeSource().now() + .seconds(1))
        #expect(result.pruned == 1)
        #expect(videos.removed == [id])
        #expect(try await harness.store.job(id) == nil)
    }
}
