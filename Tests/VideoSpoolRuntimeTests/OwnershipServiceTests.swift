import Logging
import ServiceLifecycle
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// The service that keeps a daemon's share of a shared store, over an in-memory shared store with
/// fast timings.
@Suite(.timeLimit(.minutes(1)))
struct OwnershipServiceTests {
    private static let fast = OwnershipService.Configuration(
        renewalInterval: .milliseconds(20),
        reaperInterval: .milliseconds(20),
        claimInterval: .milliseconds(20)
    )

    private struct Daemon {
        let harness: PipelineHarness
        let service: OwnershipService
        let log: LogRecording
        let registration: InstanceRegistration
    }

    private func daemon(
        _ host: String,
        on shared: InMemorySharedStore,
        api: ScriptedGenerationAPI,
        transport: RecordingWebhookTransport
    ) async throws -> Daemon {
        let view = shared.view()
        let description = InstanceDescription(host: host, pid: 1, version: "test", spoolID: "spool-\(host)")
        let registration = try await view.register(description, replacing: nil)
        let log = LogRecording()
        let harness = PipelineHarness(
            shared: view,
            registration: registration,
            api: api,
            transport: transport,
            logger: log.logger()
        )
        let control = JobControl(pipeline: harness.pipeline, spool: harness.spool)
        let service = OwnershipService(
            store: view,
            ownership: harness.pipeline.context.ownership,
            pipeline: harness.pipeline,
            instance: description,
            configuration: Self.fast,
            logger: log.logger(),
            applyCancel: { id in _ = try? await control.cancel(id) }
        )
        return Daemon(harness: harness, service: service, log: log, registration: registration)
    }

    @Test func aDaemonThatLosesItsLeaseStopsRegistersAgainAndTheJobFinishesOnce() async throws {
        let shared = InMemorySharedStore()
        let api = ScriptedGenerationAPI(status: ScriptedGenerationAPI.completingAfter(polls: 4))
        let transport = RecordingWebhookTransport()
        let a = try await daemon("a", on: shared, api: api, transport: transport)
        let b = try await daemon("b", on: shared, api: api, transport: transport)
        let id = JobID("job-1")!
        try await a.harness.run(with: [a.service]) { harness in
            try await b.harness.run(with: [b.service]) { _ in
                harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-1"))
                for await call in api.calls where call.kind != .submit { break }
                // A's lease ends: it stops, registers again, and the job is taken over.
                shared.expire(a.registration.id)
                for await entry in a.log.subscribe() where entry["event"] == "lease.registered" { break }
                _ = try await transport.attempts.collect(1)
            }
        }
        #expect(a.log.entries.contains { $0["event"] == "lease.lost" })
        #expect(api.submits(for: id) == 1, "never submitted again")
        #expect(try await a.harness.store.job(id)?.phase == .completed)
        #expect(transport.requests.count == 1, "one webhook for one ending")
        #expect(a.harness.jobStore is InMemorySharedStore.View)
        #expect((a.harness.jobStore as? InMemorySharedStore.View)?.orphans == [], "no job held by a forgotten instance")
        let takeovers = (a.log.entries + b.log.entries).filter { $0["event"] == "jobs.taken_over" }
        #expect(takeovers.map { $0["instance.released"] } == [a.registration.id.rawValue])
    }

    @Test func aCleanStopGivesEveryJobBack() async throws {
        let shared = InMemorySharedStore()
        let api = ScriptedGenerationAPI(status: { generationID, _, _ in
            ScriptedGenerationAPI.status(generationID, "generating")
        })
        let a = try await daemon("a", on: shared, api: api, transport: RecordingWebhookTransport())
        try await a.harness.run(with: [a.service]) { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-2"))
            for await call in api.calls where call.kind != .submit { break }
        }
        #expect(shared.holder(of: JobID("job-2")!).owner == nil)
        #expect(a.log.entries.contains { $0["event"] == "lease.released" })
    }

    @Test func aCancelAskedOfAnotherHostIsCarriedOutByTheHolder() async throws {
        let shared = InMemorySharedStore()
        let api = ScriptedGenerationAPI(status: { generationID, _, _ in
            ScriptedGenerationAPI.status(generationID, "generating")
        })
        let transport = RecordingWebhookTransport()
        let a = try await daemon("a", on: shared, api: api, transport: transport)
        let id = JobID("job-3")!
        let attempt = try await a.harness.run(with: [a.service]) { harness in
            harness.spool.drop("a.json", bytes: TestRequests.seedance(jobID: "job-3"))
            for await call in api.calls where call.kind != .submit { break }
            // An operator on another host, whose daemon does not hold the job.
            let other = shared.view()
            _ = try await other.register(
                InstanceDescription(host: "b", pid: 2, version: "test", spoolID: "spool-b"),
                replacing: nil
            )
            let control = JobControl(
                store: other,
                spool: InMemorySpoolDirectory(),
                time: SystemTimeSource(),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            let result = try await control.cancel(id)
            #expect(result.message.contains("asked the daemon that holds job-3 (a, pid 1)"))
            return try #require(try await transport.attempts.collect(1).first)
        }
        #expect(attempt.json?["type"] == .string("video.generation.canceled"))
        #expect(try await a.harness.store.job(id)?.phase == .canceled)
    }
}
