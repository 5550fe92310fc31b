import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// How the runtime feeds the learned poll schedule: every completion, and the store at start-up.
@Suite(.timeLimit(.minutes(1)))
struct CompletionTimeLearnerTests {
    @Test func aCompletedJobTeachesTheSchedule() async throws {
        let harness = PipelineHarness()
        _ = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            return try await harness.transport.attempts.collect(1)
        }
        let job = try #require(try await harness.store.job(JobID("job-a")!))
        let model = harness.pipeline.context.completionTimes.model
        #expect(model.observationCount(for: CompletionTimeKey(job)) == 1)
        #expect(job.lastRunningAt != nil, "stored with the completion, for the next start")
    }

    @Test func startingUpLearnsFromTheStore() async throws {
        let store = InMemoryJobStore()
        let start = Timestamp(secondsSinceEpoch: 1_800_000_000)
        var expected: [CompletionObservation] = []
        for index in 0..<25 {
            var job = Job(
                id: JobID("done-\(index)")!,
                phase: .queued,
                model: ModelSchema.seedance20Mini.model,
                callbackURLs: [],
                metadata: nil,
                acceptedAt: start,
                sourceName: "done-\(index).json",
                parameters: GenerationParameters(resolution: "720p", durationSeconds: 5)
            )
            let source = SourceFile(name: job.sourceName, sha256: "\(index)", disposition: .remove)
            try await store.commit([.insertJob(job, requestBody: [], source: source), .sourceSettled(job.id)])
            job.phase = .completed
            job.submittedAt = start + .seconds(index * 1000)
            job.lastRunningAt = job.submittedAt! + .seconds(100)
            job.finishedAt = job.submittedAt! + .seconds(104)
            try await store.commit([.updateJob(job)])
            expected.append(try #require(CompletionObservation(job: job)))
        }
        let harness = PipelineHarness(store: store)
        _ = try await harness.pipeline.recover()
        let model = harness.pipeline.context.completionTimes.model
        let distribution = try #require(model.distribution(for: expected[0].key))
        #expect(distribution.count == 25)
        #expect(abs(distribution.quantile(0.5) - 102) < 0.01)
    }
}
