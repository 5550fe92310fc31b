import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// Jobs changing hands on a shared store: a daemon that lost a job's lease stops acting on it,
/// records facts it learned too late, and takes over released work where it was.
@Suite(.timeLimit(.minutes(1)))
struct OwnershipTests {
    private static let daemon = InstanceDescription(host: "a.test", pid: 1, version: "test", spoolID: "spool-a")

    /// Registers a daemon on `shared` and builds its pipeline.
    private func daemon(
        on shared: InMemorySharedStore,
        api: ScriptedGenerationAPI = ScriptedGenerationAPI(),
        transport: RecordingWebhookTransport = RecordingWebhookTransport()
    ) async throws -> (PipelineHarness, InstanceID) {
        let view = shared.view()
        let registration = try await view.register(Self.daemon, replacing: nil)
        return (PipelineHarness(shared: view, registration: registration, api: api, transport: transport), registration.id)
    }

    /// A second daemon that takes over `id` after the first one's lease ran out.
    private func takeOver(_ id: JobID, expiring owner: InstanceID, on shared: InMemorySharedStore) async throws -> Job {
        shared.expire(owner)
        let other = shared.view()
        _ = try await other.register(Self.daemon, replacing: nil)
        #expect(try await other.releaseExpiredInstances().map(\.id) == [owner])
        let work = try await other.claimReleasedWork(ClaimLimits(queued: 10, others: 10))
        return try #require(work.activeJobs.first { $0.id == id })
    }

    @Test func aFinishedPollOfALostJobIsNotRecordedOrAnnounced() async throws {
        let shared = InMemorySharedStore()
        let (answer, release) = AsyncStream.makeStream(of: Void.self)
        let polled = AsyncStream.makeStream(of: Void.self)
        let api = ScriptedGenerationAPI(status: { generationID, _, _ in
            polled.continuation.yield()
            for await _ in answer { break }
            return await ScriptedGenerationAPI.completingAfter(polls: 1)(generationID, JobID("x")!, 1)
        })
        let (harness, instance) = try await daemon(on: shared, api: api)
        let id = JobID("job-lost")!
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-lost"))
            for await _ in polled.stream { break }
            let taken = try await takeOver(id, expiring: instance, on: shared)
            #expect(taken.phase == .generating)
            release.yield()
            // The poll's answer came back to a daemon that no longer holds the job: the
            // generation slot is given back and nothing is committed.
            try await eventually("the generation slot to be given back") {
                harness.pipeline.generationSlots.inUse == 0
            }
        }
        let job = try #require(try await harness.store.job(id))
        #expect(job.phase == .generating, "the daemon that lost the job did not finish it")
        #expect(try await harness.store.outcome(for: id) == nil, "no terminal event was recorded")
        #expect(harness.transport.requests.isEmpty)
        #expect(shared.holder(of: id).owner != instance)
    }

    @Test func aGenerationIDLearnedAfterTheLeaseWasLostIsStillRecorded() async throws {
        let shared = InMemorySharedStore()
        let (answer, release) = AsyncStream.makeStream(of: Void.self)
        let posted = AsyncStream.makeStream(of: Void.self)
        let api = ScriptedGenerationAPI(submit: { body, jobID, attempt in
            posted.continuation.yield()
            for await _ in answer { break }
            return await ScriptedGenerationAPI.accepting(body, jobID, attempt)
        })
        let (harness, instance) = try await daemon(on: shared, api: api)
        let id = JobID("job-late")!
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-late"))
            for await _ in posted.stream { break }
            let taken = try await takeOver(id, expiring: instance, on: shared)
            #expect(taken.phase == .submitting, "the intent was committed before the POST")
            release.yield()
            try await eventually("the generation slot to be given back") {
                harness.pipeline.generationSlots.inUse == 0
            }
        }
        let job = try #require(try await harness.store.job(id))
        #expect(job.generationID == "gen-job-late", "the paid generation is not lost")
        #expect(job.phase == .generating)
        #expect(shared.holder(of: id).owner == nil, "free for whichever daemon polls it")
        #expect(harness.pipeline.polling.generatingCount == 0, "the daemon that lost it does not poll it")
        #expect(api.submitCount == 1)
    }

    @Test func aDaemonWhoseLeaseHasRunOutSendsNothing() async throws {
        let shared = InMemorySharedStore(leaseDuration: .zero)
        let view = shared.view()
        let registration = try await view.register(Self.daemon, replacing: nil)
        // A lease of zero is over as soon as it begins.
        let harness = PipelineHarness(shared: view, registration: registration)
        let id = JobID("job-quiet")!
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-quiet"))
            // Each intent is committed and then not sent; wait for a second one.
            try await eventually("a second intent") { (try await harness.store.job(id))?.submitAttempts ?? 0 >= 2 }
        }
        #expect(harness.api.submitCount == 0)
        let job = try #require(try await harness.store.job(id))
        #expect(job.submitAllowance > job.submitAttempts || job.phase == .submitting)
    }

    @Test func abandoningDropsEveryJobAndGivesBackTheSlots() async throws {
        let shared = InMemorySharedStore()
        let (answer, release) = AsyncStream.makeStream(of: Void.self)
        let polled = AsyncStream.makeStream(of: Void.self)
        let api = ScriptedGenerationAPI(status: { generationID, _, _ in
            polled.continuation.yield()
            for await _ in answer { break }
            return ScriptedGenerationAPI.status(generationID, "generating")
        })
        let (harness, _) = try await daemon(on: shared, api: api)
        try await harness.run { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-abandoned"))
            for await _ in polled.stream { break }
            // Its poll is on the wire: the job is dropped at once, its slot when the answer is in.
            #expect(harness.pipeline.abandonAll() == 1)
            #expect(harness.pipeline.polling.generatingCount == 0)
            release.yield()
            try await eventually("the generation slot to be given back") {
                harness.pipeline.generationSlots.inUse == 0
            }
            #expect(harness.pipeline.polling.generatingCount == 0, "the answer did not put the job back")
        }
        #expect(api.recordedCalls.filter { $0.kind != .submit }.count == 1, "no poll after the job was dropped")
    }

    @Test func releasedWorkIsTakenOverWhereItWas() async throws {
        let shared = InMemorySharedStore()
        let firstAPI = ScriptedGenerationAPI(status: { generationID, _, _ in
            ScriptedGenerationAPI.status(generationID, "generating")
        })
        let (first, firstInstance) = try await daemon(on: shared, api: firstAPI)
        try await first.run { first in
            first.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-moving"))
            for await call in firstAPI.calls where call.kind != .submit { break }
        }
        // The first daemon died (its lease runs out); a second takes the job and finishes it
        // by polling the same generation, never submitting again.
        shared.expire(firstInstance)
        let (second, _) = try await daemon(on: shared)
        #expect(try await second.jobStore.releaseExpiredInstances().map(\.id) == [firstInstance])
        let attempt = try await second.run { second in
            try await second.pipeline.adopt(
                try await second.jobStore.claimReleasedWork(ClaimLimits(queued: 10, others: 10))
            )
            return try #require(try await second.transport.attempts.collect(1).first)
        }
        let id = JobID("job-moving")!
        #expect(second.api.submitCount == 0)
        #expect(second.api.recordedCalls.map(\.kind) == [.status("gen-job-moving")])
        #expect(try await second.store.job(id)?.phase == .completed)
        #expect(attempt.json?["data"]?["job_id"] == .string("job-moving"))
    }

    @Test func aCancelOfAJobHeldElsewhereIsARequestTheHolderCarriesOut() async throws {
        let shared = InMemorySharedStore()
        let holder = shared.view()
        _ = try await holder.register(Self.daemon, replacing: nil)
        let other = shared.view()
        _ = try await other.register(Self.daemon, replacing: nil)
        let job = Job(
            id: JobID("job-c")!,
            phase: .queued,
            model: "m",
            callbackURLs: [],
            metadata: nil,
            acceptedAt: Timestamp(millisecondsSinceEpoch: 0),
            sourceName: "c.json",
            parameters: GenerationParameters()
        )
        try await holder.commit([.insertJob(job, requestBody: [], source: SourceFile(name: "c.json", sha256: "x", disposition: .remove))])
        guard case .heldElsewhere(_, let by) = try await other.claimJob(job.id) else {
            Issue.record("a job held by a live daemon was handed to another")
            return
        }
        #expect(by == Self.daemon)
        try await other.commit([.requestCancel(job.id)])
        #expect(try await holder.claimReleasedWork(ClaimLimits(queued: 0, others: 0)).cancelRequests == [job.id])
        #expect(try await holder.claimReleasedWork(ClaimLimits(queued: 0, others: 0)).cancelRequests.isEmpty)
    }

    @Test func aShortLeaseStillLeavesTimeToAct() {
        #expect(Ownership.margin(for: .seconds(15)) == .seconds(3))
        #expect(Ownership.margin(for: .seconds(3)) == .milliseconds(600))
        let ownership = Ownership(registration: InstanceRegistration(id: InstanceID("i"), leaseDuration: .seconds(3)))
        #expect(ownership.mayAct(), "a lease of 3 s, just granted, allows action")
    }
}
