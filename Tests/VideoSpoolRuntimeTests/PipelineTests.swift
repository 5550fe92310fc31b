import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// The whole pipeline over in-memory fakes: intake → submission → polling → delivery → outcome.
@Suite(.timeLimit(.minutes(1)))
struct PipelineTests {
    // MARK: - Happy path

    @Test func aDroppedRequestIsSubmittedPolledAndDelivered() async throws {
        let harness = PipelineHarness()
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(prompt: "a fox", jobID: "job-a"))
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        let id = JobID("job-a")!
        let job = try #require(try await harness.store.job(id))
        #expect(job.phase == .completed)
        #expect(job.videoURL == "https://cdn.test/gen-job-a.mp4")
        #expect(harness.api.submits(for: id) == 1)
        // The body sent upstream has no daemon keys.
        let sent = try JSONParser().parse(try #require(harness.api.recordedCalls.first { $0.kind == .submit }).body)
        #expect(sent["callback_url"] == nil && sent["job_id"] == nil)
        #expect(sent["prompt"] == .string("a fox"))
        // The webhook is signed, Standard Webhooks style, and describes the job.
        let webhookID = try #require(attempt.header("webhook-id"))
        let timestamp = try #require(attempt.header("webhook-timestamp").flatMap { Int64($0) })
        let signature = try #require(attempt.header("webhook-signature"))
        let signer = WebhookSigner(secret: harness.secret)
        #expect(signature == signer.signature(messageID: webhookID, timestamp: timestamp, body: attempt.body))
        #expect(attempt.header("content-type") == "application/json")
        #expect(attempt.json?["type"] == .string("video.generation.completed"))
        #expect(attempt.json?["data"]?["job_id"] == .string("job-a"))
        #expect(attempt.json?["data"]?["usage"]?["usd_spent"] == .number(JSONNumber(0.06)))
        #expect(harness.spool.incomingFiles.isEmpty)
        #expect(harness.store.isSourceSettled(id))
    }

    @Test func theOutcomeFileCarriesTheWebhookDocumentAndDeliveryState() async throws {
        let harness = PipelineHarness()
        let id = JobID("job-a")!
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-a"))
            // The file is rewritten after the delivery; writes close together may be merged, so
            // wait for a version that shows the delivery, not for a number of writes.
            for await written in harness.spool.outcomeWrites where written == id {
                let document = try JSONParser().parse(try #require(harness.spool.doneFiles[id]))
                if document["deliveries"]?.arrayValue?.first?["state"] == .string("delivered") { break }
            }
        }
        let document = try JSONParser().parse(try #require(harness.spool.doneFiles[id]))
        #expect(document["type"] == .string("video.generation.completed"))
        #expect(document["data"]?["video"]?["url"] == .string("https://cdn.test/gen-job-a.mp4"))
        let delivery = try #require(document["deliveries"]?.arrayValue?.first)
        #expect(delivery["state"] == .string("delivered"))
        #expect(delivery["url"] == .string("https://receiver.test/hook"))
        #expect(delivery["attempts"] == .int(1))
    }

    /// The intake hands a new job's request body to the submission queue: the POST does not read
    /// back from the store what was just written there. A job recovered at start is read back.
    @Test func aNewJobIsPostedWithoutReadingItsBodyBackFromTheStore() async throws {
        let harness = PipelineHarness()
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(prompt: "handed over", jobID: "handed"))
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(harness.api.submitCount == 1)
        #expect(harness.store.requestBodyReads == 0)
        let sent = try JSONParser().parse(try #require(harness.api.recordedCalls.first { $0.kind == .submit }).body)
        #expect(sent["prompt"] == .string("handed over"))
    }

    @Test func aRequestWithoutCallbacksStillGetsAnOutcomeFile() async throws {
        let harness = PipelineHarness()
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "quiet", callbackURL: nil))
            _ = try await harness.spool.outcomeWrites.collect(1)
        }
        #expect(harness.spool.doneFiles[JobID("quiet")!] != nil)
        #expect(harness.transport.requests.isEmpty)
    }

    @Test func filesPresentBeforeStartAreFoundByTheFirstScan() async throws {
        let harness = PipelineHarness()
        harness.spool.place("early.json", bytes: TestRequests.seedance(jobID: "early"))
        try await harness.run { harness in
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(try await harness.store.job(JobID("early")!)?.phase == .completed)
    }

    @Test func aRescanFindsFilesThatInotifyMissed() async throws {
        let harness = PipelineHarness()
        try await harness.run { harness in
            harness.spool.place("missed.json", bytes: TestRequests.seedance(jobID: "missed"))
            harness.spool.overflowWatchers()
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(try await harness.store.job(JobID("missed")!)?.phase == .completed)
    }

    @Test func hiddenAndNonJSONNamesAreIgnored() async throws {
        let harness = PipelineHarness()
        try await harness.run { harness in
            harness.spool.drop(".a.json.tmp", bytes: TestRequests.seedance(jobID: "hidden"))
            harness.spool.drop("notes.txt", bytes: TestRequests.seedance(jobID: "text"))
            harness.spool.drop("real.json", bytes: TestRequests.seedance(jobID: "real"))
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(harness.api.submitCount == 1)
        #expect(Set(harness.spool.incomingFiles) == [".a.json.tmp", "notes.txt"])
    }

    // MARK: - Rejections

    @Test func anInvalidFileIsRejectedWithAReportAndAWebhook() async throws {
        let harness = PipelineHarness()
        let bytes = Array(#"{"model":"bytedance/dreamina-seedance-2-0-mini","promt":"x","callback_url":"https://r.test/h"}"#.utf8)
        let attempt = try await harness.run { harness in
            harness.spool.drop("bad.json", bytes: bytes)
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(harness.api.submitCount == 0)
        #expect(harness.spool.rejectedFiles["bad.json"] == bytes)
        let report = try JSONParser().parse(try #require(harness.spool.errorDocuments["bad.json.error.json"]))
        let codes = report["errors"]?.arrayValue?.compactMap { $0["code"]?.stringValue } ?? []
        #expect(codes.contains("unknown_field") && codes.contains("missing_field"))
        #expect(attempt.json?["type"] == .string("video.generation.rejected"))
        #expect(attempt.json?["data"]?["status"] == .string("rejected"))
        #expect(attempt.json?["data"]?["errors"]?.arrayValue?.count == 2)
    }

    @Test func anInvalidFileWithoutACallbackIsRejectedQuietly() async throws {
        let harness = PipelineHarness()
        try await harness.run { harness in
            harness.spool.drop("bad.json", bytes: Array("{not json".utf8))
            harness.spool.drop("good.json", bytes: TestRequests.seedance(jobID: "good"))
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(harness.spool.rejectedFiles["bad.json"] != nil)
        #expect(harness.transport.requests.count == 1)
        #expect(harness.store.allJobs.map(\.id.rawValue) == ["good"])
    }

    @Test func aSecondRequestWithAKnownJobIDIsRejectedAndNeverSubmitted() async throws {
        let harness = PipelineHarness()
        try await harness.run { harness in
            harness.spool.drop("one.json", bytes: TestRequests.seedance(prompt: "first", jobID: "same"))
            _ = try await harness.transport.attempts.collect(1)
            harness.spool.drop("two.json", bytes: TestRequests.seedance(prompt: "second", jobID: "same"))
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(harness.api.submits(for: JobID("same")!) == 1)
        let report = try JSONParser().parse(try #require(harness.spool.errorDocuments["two.json.error.json"]))
        #expect(report["errors"]?.arrayValue?.first?["code"] == .string("duplicate_job_id"))
        let rejection = try #require(harness.transport.requests.last?.json)
        #expect(rejection["type"] == .string("video.generation.rejected"))
        #expect(rejection["data"]?["job_id"] == .string("same"))
    }

    @Test func twoFilesWithTheSameJobIDInOneBatchSubmitOnce() async throws {
        let harness = PipelineHarness()
        harness.spool.place("a.json", bytes: TestRequests.seedance(jobID: "twin"))
        harness.spool.place("b.json", bytes: TestRequests.seedance(jobID: "twin"))
        try await harness.run { harness in
            _ = try await harness.transport.attempts.collect(2)
        }
        #expect(harness.api.submitCount == 1)
        #expect(harness.spool.rejectedFiles.keys.sorted() == ["b.json"])
    }

    @Test func unusableEntriesAreRejectedWithTheirReason() async throws {
        let harness = PipelineHarness()
        try await harness.run { harness in
            harness.spool.dropUnusable(
                "link.json",
                issue: ValidationIssue(field: nil, code: .symlink, message: "the file is a symbolic link")
            )
            harness.spool.drop("good.json", bytes: TestRequests.seedance(jobID: "good"))
            _ = try await harness.transport.attempts.collect(1)
        }
        let report = try JSONParser().parse(try #require(harness.spool.errorDocuments["link.json.error.json"]))
        #expect(report["errors"]?.arrayValue?.first?["code"] == .string("symlink"))
    }

    /// A file counts as possibly still being written for one settle time after its last change.
    /// One second keeps the first look well inside that window even on a loaded machine.
    static let settle = SpoolIntake.Configuration(settleTime: .seconds(1), rescanInterval: .seconds(60))

    @Test func aFileStillBeingWrittenIsLookedAtAgainAfterItSettles() async throws {
        let harness = PipelineHarness(intake: Self.settle)
        let outcome = try await harness.run { harness in
            let full = TestRequests.seedance(jobID: "slow-writer")
            harness.spool.drop("slow.json", bytes: Array(full.prefix(20)))
            // The intake reads the half-written file and puts it aside; then the writer finishes
            // without any further hint, and the second look finds the whole request.
            _ = try await harness.spool.events.collect(1) { $0 == .read("slow.json") }
            harness.spool.place("slow.json", bytes: full)
            return try await harness.spool.events.collect(1) { $0 == .removed("slow.json") || $0 == .rejected("slow.json") }
        }
        #expect(outcome == [.removed("slow.json")])
        #expect(harness.spool.rejectedFiles.isEmpty)
        #expect(try await harness.store.job(JobID("slow-writer")!) != nil)
    }

    @Test func aTruncatedFileThatNeverCompletesIsRejectedAfterTheSettleTime() async throws {
        let harness = PipelineHarness(intake: Self.settle)
        let events = try await harness.run { harness in
            harness.spool.drop("cut.json", bytes: Array(TestRequests.seedance(jobID: "cut").prefix(20)))
            var seen: [InMemorySpoolDirectory.Event] = []
            for await event in harness.spool.events {
                seen.append(event)
                if event == .rejected("cut.json") || event == .removed("cut.json") { break }
            }
            return seen
        }
        #expect(events == [.read("cut.json"), .read("cut.json"), .rejected("cut.json")])
        let report = try JSONParser().parse(try #require(harness.spool.errorDocuments["cut.json.error.json"]))
        #expect(report["errors"]?.arrayValue?.first?["code"] == .string("truncated_json"))
    }

    // MARK: - Upstream trouble

    @Test func anAmbiguousSubmissionFailsTheJobWithoutResending() async throws {
        let api = ScriptedGenerationAPI(submit: { _, _, _ in ScriptedGenerationAPI.httpStatus(500, message: "Internal server error") })
        let harness = PipelineHarness(api: api)
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "unsure"))
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(harness.api.submits(for: JobID("unsure")!) == 1)
        let job = try #require(try await harness.store.job(JobID("unsure")!))
        #expect(job.phase == .failed)
        #expect(job.failure?.code == .submissionOutcomeUnknown)
        #expect(attempt.json?["type"] == .string("video.generation.failed"))
        #expect(attempt.json?["data"]?["error"]?["code"] == .string("submission_outcome_unknown"))
        #expect(harness.spool.failedFiles[JobID("unsure")!] != nil)
    }

    @Test func theResubmitPolicySendsAnAmbiguousSubmissionAgain() async throws {
        let api = ScriptedGenerationAPI(submit: { body, id, attempt in
            attempt == 1
                ? .outcomeUnknown(reason: "timed out")
                : await ScriptedGenerationAPI.accepting(body, id, attempt)
        })
        var policy = PipelineHarness.fastPolicy
        policy.ambiguousSubmission = .resubmit
        let harness = PipelineHarness(api: api, policy: policy)
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "again"))
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(harness.api.submits(for: JobID("again")!) == 2)
        #expect(try await harness.store.job(JobID("again")!)?.phase == .completed)
    }

    @Test func retryableAnswersAreRetriedUntilAccepted() async throws {
        let api = ScriptedGenerationAPI(submit: { body, id, attempt in
            switch attempt {
            case 1: ScriptedGenerationAPI.httpStatus(429, message: "Too Many Requests")
            case 2: .notSent(reason: "connection refused")
            case 3: ScriptedGenerationAPI.httpStatus(503)
            default: await ScriptedGenerationAPI.accepting(body, id, attempt)
            }
        })
        let harness = PipelineHarness(api: api)
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "patient"))
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(harness.api.submits(for: JobID("patient")!) == 4)
        #expect(try await harness.store.job(JobID("patient")!)?.phase == .completed)
    }

    @Test func aRejectedBodyFailsTheJobWithTheAPIsMessage() async throws {
        let api = ScriptedGenerationAPI(submit: { _, _, _ in
            ScriptedGenerationAPI.httpStatus(400, message: "Body validation error! Invalid enum value")
        })
        let harness = PipelineHarness(api: api)
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "refused"))
            _ = try await harness.transport.attempts.collect(1)
        }
        let job = try #require(try await harness.store.job(JobID("refused")!))
        #expect(job.failure?.code == .apiRejected)
        #expect(job.failure?.message.contains("Invalid enum value") == true)
    }

    @Test func anAuthenticationFailurePausesSubmissionsAndLosesNothing() async throws {
        let api = ScriptedGenerationAPI(submit: { _, _, _ in ScriptedGenerationAPI.httpStatus(401, message: "bad key") })
        let harness = PipelineHarness(api: api)
        try await harness.run { harness in
            for index in 0..<3 {
                harness.spool.drop("\(index).json", bytes: TestRequests.seedance(jobID: "held-\(index)"))
            }
            // Wait for the first 401, then a probe after the pause.
            _ = try await harness.api.calls.collect(2) { $0.kind == .submit }
            let status = harness.pipeline.status
            #expect(status.submissionsPaused?.contains("HTTP 401") == true)
            #expect(status.failed == 0)
            // The key is fixed: the next probe succeeds and everything drains.
            harness.api.setSubmitHandler(ScriptedGenerationAPI.accepting)
            _ = try await harness.transport.attempts.collect(3)
        }
        for index in 0..<3 {
            #expect(try await harness.store.job(JobID("held-\(index)")!)?.phase == .completed)
        }
        #expect(harness.pipeline.status.submissionsPaused == nil)
    }

    @Test func aGenerationErrorFailsTheJob() async throws {
        let api = ScriptedGenerationAPI(status: { id, _, _ in
            .response(
                APIResponse(
                    statusCode: 200,
                    body: Array(#"{"id":"\#(id)","status":"error","error":{"name":"ModerationError","message":"blocked"}}"#.utf8)
                )
            )
        })
        let harness = PipelineHarness(api: api)
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "blocked"))
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(attempt.json?["data"]?["error"]?["code"] == .string("generation_failed"))
        #expect(attempt.json?["data"]?["error"]?["message"] == .string("ModerationError: blocked"))
    }

    @Test func failedPollsAreRetriedWithoutFailingTheJob() async throws {
        let api = ScriptedGenerationAPI(status: { id, job, poll in
            switch poll {
            case 1: .outcomeUnknown(reason: "reset")
            case 2: ScriptedGenerationAPI.httpStatus(502)
            case 3: .response(APIResponse(statusCode: 200, body: Array("not json".utf8)))
            default: await ScriptedGenerationAPI.completingAfter(polls: 1)(id, job, poll)
            }
        })
        let harness = PipelineHarness(api: api)
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "bumpy"))
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(try await harness.store.job(JobID("bumpy")!)?.phase == .completed)
    }

    @Test func aGenerationThatNeverFinishesTimesOut() async throws {
        let api = ScriptedGenerationAPI(status: { id, _, _ in ScriptedGenerationAPI.status(id, "generating") })
        var policy = PipelineHarness.fastPolicy
        policy.poll.deadline = .milliseconds(200)
        let harness = PipelineHarness(api: api, policy: policy)
        let attempt = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "forever"))
            return try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(attempt.json?["data"]?["error"]?["code"] == .string("timeout"))
    }

    @Test func inFlightGenerationsStayWithinTheLimit() async throws {
        let harness = PipelineHarness(
            api: ScriptedGenerationAPI(status: ScriptedGenerationAPI.completingAfter(polls: 3)),
            limits: Pipeline.Limits(maximumConcurrentRequests: 4, maximumInFlightGenerations: 2)
        )
        try await harness.run { harness in
            for index in 0..<8 {
                harness.spool.drop("\(index).json", bytes: TestRequests.seedance(jobID: "bounded-\(index)"))
            }
            _ = try await harness.transport.attempts.collect(8)
        }
        #expect(harness.api.maximumGenerationsInFlight <= 2)
        #expect(harness.api.submitCount == 8)
    }

    // MARK: - Deliveries

    @Test func aFailedDeliveryIsRetriedWithTheSameWebhookID() async throws {
        let transport = RecordingWebhookTransport()
        transport.setHandler { request in
            request.attempt < 3
                ? .response(statusCode: 500, retryAfter: nil, location: nil)
                : .response(statusCode: 204, retryAfter: nil, location: nil)
        }
        let harness = PipelineHarness(transport: transport)
        let attempts = try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "flaky"))
            return try await harness.transport.attempts.collect(3)
        }
        #expect(Set(attempts.compactMap { $0.header("webhook-id") }).count == 1)
        #expect(attempts.map(\.attempt) == [1, 2, 3])
        #expect(attempts.map(\.body).allSatisfy { $0 == attempts[0].body })
    }

    @Test func goneStopsRetryingThatURLButNotTheOthers() async throws {
        let transport = RecordingWebhookTransport()
        transport.setHandler { request in
            request.url.contains("gone")
                ? .response(statusCode: 410, retryAfter: nil, location: nil)
                : .response(statusCode: 200, retryAfter: nil, location: nil)
        }
        let harness = PipelineHarness(transport: transport)
        try await harness.run { harness in
            let urls = JSONObject(["callback_urls": .array([.string("https://gone.test/h"), .string("https://ok.test/h")])])
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "fanout", callbackURL: nil, extra: urls))
            _ = try await harness.transport.attempts.collect(2)
            // Both attempts recorded; wait until the store has both final states.
            while try await harness.store.outcome(for: JobID("fanout")!)?.deliveries.contains(where: { $0.state == .pending }) != false {
                _ = try await harness.spool.outcomeWrites.collect(1)
            }
        }
        let deliveries = try #require(try await harness.store.outcome(for: JobID("fanout")!)?.deliveries)
        #expect(deliveries.map(\.state) == [.gone, .delivered])
        #expect(harness.transport.requests.filter { $0.url.contains("gone") }.count == 1)
    }

    @Test func aDeadReceiverDoesNotDelayOthers() async throws {
        let transport = RecordingWebhookTransport()
        let (release, releaser) = AsyncStream.makeStream(of: Void.self)
        transport.setHandler { request in
            if request.url.contains("dead") {
                for await _ in release {}
                return .transportFailure(reason: "timed out", timedOut: true)
            }
            return .response(statusCode: 204, retryAfter: nil, location: nil)
        }
        let harness = PipelineHarness(
            transport: transport,
            delivery: DeliveryService.Configuration(maximumConcurrentAttempts: 4, maximumConcurrentAttemptsPerHost: 2)
        )
        try await harness.run { harness in
            for index in 0..<6 {
                harness.spool.drop(
                    "dead-\(index).json",
                    bytes: TestRequests.seedance(jobID: "dead-\(index)", callbackURL: "https://dead.test/h")
                )
            }
            harness.spool.drop("alive.json", bytes: TestRequests.seedance(jobID: "alive", callbackURL: "https://alive.test/h"))
            // The live receiver is served although the dead one holds its slots.
            _ = try await harness.transport.attempts.collect(1) { $0.url.contains("alive") }
            releaser.finish()
        }
        let hanging = harness.transport.requests.filter { $0.url.contains("dead") }
        #expect(hanging.count >= 2)
    }

    // MARK: - Restart

    @Test func aRestartResumesEveryJobWhereItWas() async throws {
        let store = InMemoryJobStore()
        let spool = InMemorySpoolDirectory()
        let now = SystemClockForTests.now()
        func job(_ id: String, _ phase: JobPhase) -> Job {
            Job(
                id: JobID(id)!, phase: phase, model: ModelSchema.seedance20Mini.model,
                callbackURLs: ["https://r.test/\(id)"], metadata: nil, acceptedAt: now, sourceName: "\(id).json",
                parameters: GenerationParameters()
            )
        }
        var generating = job("was-generating", .queued)
        var submitting = job("was-submitting", .queued)
        let queued = job("was-queued", .queued)
        let body = TestRequests.seedance(callbackURL: nil)
        try await store.commit([
            .insertJob(generating, requestBody: body, source: SourceFile(name: "g.json", sha256: "x", disposition: .remove)),
            .insertJob(submitting, requestBody: body, source: SourceFile(name: "s.json", sha256: "x", disposition: .remove)),
            .insertJob(queued, requestBody: body, source: SourceFile(name: "q.json", sha256: "x", disposition: .remove)),
            .sourceSettled(generating.id), .sourceSettled(submitting.id), .sourceSettled(queued.id),
        ])
        generating.phase = .generating
        generating.generationID = "gen-before-restart"
        generating.submittedAt = now
        submitting.phase = .submitting
        try await store.commit([.updateJob(generating), .updateJob(submitting)])

        let harness = PipelineHarness(store: store, spool: spool)
        try await harness.run { harness in
            _ = try await harness.transport.attempts.collect(3)
        }
        #expect(try await store.job(generating.id)?.phase == .completed)
        #expect(harness.api.recordedCalls.contains { $0.kind == .status("gen-before-restart") })
        #expect(harness.api.submits(for: generating.id) == 0, "a generating job is polled, never resubmitted")
        let unsure = try #require(try await store.job(submitting.id))
        #expect(unsure.failure?.code == .submissionOutcomeUnknown)
        #expect(harness.api.submits(for: submitting.id) == 0)
        #expect(try await store.job(queued.id)?.phase == .completed)
        #expect(harness.api.submits(for: queued.id) == 1)
    }

    @Test func aFileCommittedButNotRemovedBeforeACrashBecomesOneJob() async throws {
        let store = InMemoryJobStore()
        let spool = InMemorySpoolDirectory()
        let bytes = TestRequests.seedance(jobID: "committed")
        let job = Job(
            id: JobID("committed")!, phase: .queued, model: ModelSchema.seedance20Mini.model,
            callbackURLs: ["https://receiver.test/hook"], metadata: nil, acceptedAt: SystemClockForTests.now(),
            sourceName: "c.json", parameters: GenerationParameters()
        )
        // The crash came after the commit and before the file left incoming/.
        try await store.commit([
            .insertJob(job, requestBody: bytes, source: SourceFile(name: "c.json", sha256: ContentDigest.sha256Hex(bytes), disposition: .remove))
        ])
        spool.place("c.json", bytes: bytes)
        let harness = PipelineHarness(store: store, spool: spool)
        try await harness.run { harness in
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(spool.incomingFiles.isEmpty)
        #expect(spool.rejectedFiles.isEmpty, "not rejected as a duplicate of itself")
        #expect(harness.api.submitCount == 1)
        #expect(store.isSourceSettled(job.id))
    }

    @Test func pendingDeliveriesAndStaleOutcomesAreFinishedAfterARestart() async throws {
        let store = InMemoryJobStore()
        // First run: the receiver is down, so the delivery stays pending.
        let down = RecordingWebhookTransport { _ in .transportFailure(reason: "connection refused", timedOut: false) }
        var slowRetries = PipelineHarness.fastPolicy
        slowRetries.webhookRetries = WebhookRetrySchedule(delays: [.seconds(3600)], jitter: 0)
        let first = PipelineHarness(store: store, transport: down, policy: slowRetries)
        try await first.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "waiting"))
            _ = try await harness.transport.attempts.collect(1)
        }
        #expect(try await store.outcome(for: JobID("waiting")!)?.deliveries.first?.state == .pending)
        // Second run: the pending delivery is restored; with a short schedule it goes out now.
        let pending = try await store.recover().pendingDeliveries
        #expect(pending.count == 1)
        var immediate = pending[0]
        immediate.nextAttemptAt = SystemClockForTests.now()
        try await store.commit([.updateDelivery(immediate)])
        let second = PipelineHarness(store: store)
        let attempt = try await second.run { harness in
            try #require(try await harness.transport.attempts.collect(1).first)
        }
        #expect(attempt.header("webhook-id") == down.requests.first?.header("webhook-id"))
        #expect(attempt.body == down.requests.first?.body)
        #expect(second.api.submitCount == 0)
    }
}

@Suite(.timeLimit(.minutes(1)))
struct DuplicateRequestTests {
    @Test func theSameFileDroppedTwiceIsSubmittedOnce() async throws {
        let harness = PipelineHarness()
        let bytes = TestRequests.seedance(prompt: "copied twice")
        try await harness.run { harness in
            harness.spool.drop("first.json", bytes: bytes)
            _ = try await harness.transport.attempts.collect(1)
            harness.spool.drop("second.json", bytes: bytes)
            _ = try await harness.spool.events.collect(1) { $0 == .rejected("second.json") }
        }
        #expect(harness.api.submitCount == 1)
        let report = try JSONParser().parse(try #require(harness.spool.errorDocuments["second.json.error.json"]))
        #expect(report["errors"]?.arrayValue?.first?["code"] == .string("duplicate_request"))
    }

    @Test func aJobIDMakesAnIdenticalRequestDeliberate() async throws {
        let harness = PipelineHarness()
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(prompt: "same", jobID: "take-1"))
            harness.spool.drop("b.json", bytes: TestRequests.seedance(prompt: "same", jobID: "take-2"))
            _ = try await harness.transport.attempts.collect(2)
        }
        #expect(harness.api.submitCount == 2)
    }

    @Test func aZeroWindowTurnsDeduplicationOff() async throws {
        let harness = PipelineHarness(
            intake: SpoolIntake.Configuration(settleTime: .zero, rescanInterval: .seconds(60), duplicateWindow: .zero)
        )
        let bytes = TestRequests.seedance(prompt: "again")
        try await harness.run { harness in
            harness.spool.drop("first.json", bytes: bytes)
            harness.spool.drop("second.json", bytes: bytes)
            _ = try await harness.transport.attempts.collect(2)
        }
        #expect(harness.api.submitCount == 2)
    }
}
