import CoreMetrics
import MetricsTestKit
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// What the pipeline reports through swift-metrics, read back from a recording backend.
@Suite(.timeLimit(.minutes(1)))
struct PipelineMetricsTests {
    typealias Name = PipelineMetrics.Name
    static let model = ModelSchema.seedance20Mini.model

    @Test func aJobThroughThePipelineIsCountedTimedAndCosted() async throws {
        let recorded = TestMetrics()
        let harness = PipelineHarness(
            api: ScriptedGenerationAPI(status: ScriptedGenerationAPI.completingAfter(polls: 2)),
            metrics: PipelineMetrics(factory: recorded, models: .builtIn)
        )
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            harness.spool.drop("b.json", bytes: Array(#"{"model": 7, "callback_url": "https://receiver.test/hook"}"#.utf8))
            _ = try await harness.transport.attempts.collect(2)
        }
        let job = try #require(try await harness.store.job(JobID("job-a")!))
        #expect(job.phase == .completed)

        #expect(try recorded.expectCounter(Name.jobsAccepted, [("model", Self.model)]).totalValue == 1)
        #expect(recorded.counterTotal(label: Name.jobsRejected) == 1)
        #expect(recorded.counters(label: Name.jobsRejected).allSatisfy { $0.dimensions.first?.0 == "code" })
        let finished = try recorded.expectCounter(
            Name.jobsFinished,
            [("outcome", "completed"), ("code", "none"), ("model", Self.model)]
        )
        #expect(finished.totalValue == 1)

        // One count per request the API saw, by kind and class.
        let calls = harness.api.recordedCalls
        #expect(recorded.counterTotal(label: Name.apiRequests, dimensions: [("kind", "submit"), ("status_class", "2xx")]) == 1)
        #expect(
            recorded.counterTotal(label: Name.apiRequests, dimensions: [("kind", "poll"), ("status_class", "2xx")])
                == Int64(calls.filter { $0.kind != .submit }.count)
        )
        #expect(try recorded.expectTimer(Name.apiRequestDuration, [("kind", "poll")]).values.count == job.polls)

        // Both webhooks (completed and rejected) were answered 204.
        #expect(recorded.counterTotal(label: Name.webhookAttempts, dimensions: [("status_class", "2xx")]) == 2)
        #expect(try recorded.expectTimer(Name.webhookAttemptDuration).values.count == 2)

        // The generation's time, its polls and the gap before the poll that saw it finish.
        let generation = try recorded.expectTimer(
            Name.generationDuration,
            [("model", Self.model), ("resolution", "default"), ("duration", "5")]
        )
        #expect(generation.values.count == 1)
        #expect(try recorded.expectRecorder(Name.pollsPerJob, [("model", Self.model)]).values == [Double(job.polls)])
        #expect(job.polls == 2)
        #expect(try recorded.expectTimer(Name.completionPollGap, [("model", Self.model)]).values.count == 1)

        // 120,000 credits; 0.06 USD (a floating-point counter, rounded by the test backend).
        #expect(recorded.counterTotal(label: Name.creditsUsed, dimensions: [("model", Self.model)]) == 120_000)
        #expect(try recorded.expectTimer(Name.storeCommitDuration).values.count >= 4)
    }

    @Test func aWebhookThatKeepsFailingIsCountedPerAttemptAndOnceGivenUp() async throws {
        let recorded = TestMetrics()
        let transport = RecordingWebhookTransport { _ in .response(statusCode: 503, retryAfter: nil, location: nil) }
        let harness = PipelineHarness(transport: transport, metrics: PipelineMetrics(factory: recorded, models: .builtIn))
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            // The fast policy retries three times.
            _ = try await harness.transport.attempts.collect(4)
            try await eventually("the delivery is given up") {
                recorded.counterTotal(label: Name.webhooksGivenUp) == 1
            }
        }
        #expect(recorded.counterTotal(label: Name.webhookAttempts, dimensions: [("status_class", "5xx")]) == 4)
        #expect(try recorded.expectCounter(Name.webhooksGivenUp, [("state", "failed")]).totalValue == 1)
    }

    @Test func anUnauthorizedAnswerPausesSubmissionsAndIsCountedAs4xx() async throws {
        let recorded = TestMetrics()
        let api = ScriptedGenerationAPI(submit: { body, jobID, attempt in
            attempt == 1 ? ScriptedGenerationAPI.httpStatus(401) : await ScriptedGenerationAPI.accepting(body, jobID, attempt)
        })
        let harness = PipelineHarness(api: api, metrics: PipelineMetrics(factory: recorded, models: .builtIn))
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(try recorded.expectCounter(Name.apiPauses, [("loop", "submissions")]).totalValue == 1)
        #expect(recorded.counterTotal(label: Name.apiRequests, dimensions: [("kind", "submit"), ("status_class", "4xx")]) == 1)
    }

    @Test func a429WithRetryAfterIsCountedAsAHold() async throws {
        let recorded = TestMetrics()
        let api = ScriptedGenerationAPI(submit: { body, jobID, attempt in
            if attempt == 1 { return .response(APIResponse(statusCode: 429, retryAfter: .seconds(1))) }
            return await ScriptedGenerationAPI.accepting(body, jobID, attempt)
        })
        let harness = PipelineHarness(api: api, metrics: PipelineMetrics(factory: recorded, models: .builtIn))
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(try recorded.expectCounter(Name.apiHolds).totalValue == 1)
        #expect(recorded.counterTotal(label: Name.apiRequests, dimensions: [("kind", "submit"), ("status_class", "4xx")]) == 1)
        #expect(recorded.counterTotal(label: Name.apiRequests, dimensions: [("kind", "submit"), ("status_class", "2xx")]) == 1)
    }

    @Test func videoDownloadsAreCountedByOutcomeAndAFullDiskOnItsOwn() throws {
        let recorded = TestMetrics()
        let metrics = PipelineMetrics(factory: recorded, models: .builtIn)
        metrics.videoDownload(.success(StoredVideo(path: "/v/a.mp4", bytes: 1234, sha256: "00", contentType: "video/mp4")), latency: .seconds(2))
        metrics.videoDownload(.failure(VideoDownloadError(code: .diskFull, isTransient: true, message: "no space")), latency: .seconds(1))
        metrics.videoDownload(.failure(VideoDownloadError(code: .stalled, isTransient: true, message: "stalled")), latency: .seconds(1))
        #expect(try recorded.expectCounter(Name.videoDownloads, [("outcome", "stored")]).totalValue == 1)
        #expect(try recorded.expectCounter(Name.videoDownloads, [("outcome", "disk_full")]).totalValue == 1)
        #expect(try recorded.expectCounter(Name.videoDownloads, [("outcome", "stalled")]).totalValue == 1)
        #expect(try recorded.expectCounter(Name.videoDownloadBytes).totalValue == 1234)
        #expect(try recorded.expectCounter(Name.resultsDiskFull).totalValue == 1)
        #expect(try recorded.expectTimer(Name.videoDownloadDuration, [("outcome", "failed")]).values.count == 2)
        #expect(try recorded.expectTimer(Name.videoDownloadDuration, [("outcome", "stored")]).values == [2_000_000_000])
    }

    @Test func aModelOutsideTheCatalogueIsLabelledUnlisted() throws {
        let recorded = TestMetrics()
        let metrics = PipelineMetrics(factory: recorded, models: .builtIn)
        var job = Job(
            id: JobID("job-x")!,
            phase: .completed,
            model: "acme/a-model-nobody-listed",
            callbackURLs: [],
            metadata: nil,
            acceptedAt: Timestamp(secondsSinceEpoch: 1000),
            sourceName: "x.json",
            parameters: GenerationParameters(resolution: "8k-of-its-own", durationSeconds: 77)
        )
        job.submittedAt = Timestamp(secondsSinceEpoch: 1000)
        job.finishedAt = Timestamp(secondsSinceEpoch: 1060)
        metrics.jobFinished(job)
        #expect(try recorded.expectCounter(Name.jobsFinished, [("outcome", "completed"), ("code", "none"), ("model", "unlisted")]).totalValue == 1)
        let timer = try recorded.expectTimer(
            Name.generationDuration,
            [("model", "unlisted"), ("resolution", "unlisted"), ("duration", "unlisted")]
        )
        #expect(timer.values == [60_000_000_000])
        #expect(recorded.counters.allSatisfy { counter in !counter.dimensions.contains { $0.1.contains("acme") } })
    }

    @Test func exchangesAreClassedByStatusOrByWhatWentWrong() {
        #expect(PipelineMetrics.statusClassLabel(of: .response(APIResponse(statusCode: 429))) == "4xx")
        #expect(PipelineMetrics.statusClassLabel(of: .response(APIResponse(statusCode: 503))) == "5xx")
        #expect(PipelineMetrics.statusClassLabel(of: .notSent(reason: "refused")) == "not_sent")
        #expect(PipelineMetrics.statusClassLabel(of: .outcomeUnknown(reason: "reset")) == "no_answer")
    }
}
