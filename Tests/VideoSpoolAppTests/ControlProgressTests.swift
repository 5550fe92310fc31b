import Foundation
import Logging
import Synchronization
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// A request that asks for progress hears from the daemon while the work goes on, however long it
/// takes, so the client never mistakes a daemon at work for a dead one; then it gets the answer.
@Suite(.timeLimit(.minutes(1)))
struct ControlProgressTests {
    @Test func aLongOperationSendsProgressLinesUntilItsAnswer() async throws {
        try await withTemporaryDirectory { root in
            let store = InMemoryJobStore()
            let spool = InMemorySpoolDirectory()
            let start = Timestamp(secondsSinceEpoch: 1_800_000_000)
            var job = Job(
                id: JobID("old")!, phase: .queued, model: "m", callbackURLs: [], metadata: nil, acceptedAt: start,
                sourceName: "old.json", parameters: GenerationParameters()
            )
            try await store.commit([
                .insertJob(job, requestBody: [], source: SourceFile(name: "old.json", sha256: "x", disposition: .remove)),
                .sourceSettled(job.id),
            ])
            job.phase = .completed
            job.finishedAt = start
            try await store.commit([.updateJob(job)])
            let control = JobControl(
                store: store, spool: spool, time: SystemTimeSource(),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            let path = root + "/control.sock"
            let service = ControlService(
                path: path, control: control, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                progressInterval: .milliseconds(20)
            )
            let server = Task { try await service.run() }
            defer { server.cancel() }
            try await eventually("the control socket is listening") { FileManager.default.fileExists(atPath: path) }

            // The prune's batch waits in its flush until the test has heard two progress lines.
            spool.holdFlushes()
            let (updates, heard) = AsyncStream.makeStream(of: ControlUpdate.self)
            let request = ControlRequest(command: .prune, endedBefore: (start + .seconds(60)).millisecondsSinceEpoch, progress: true, ids: true)
            let client = Task.detached {
                try ControlClient.send(request, to: path) { heard.yield($0) }
            }
            let keepalives = try await updates.collect(2)
            #expect(keepalives.allSatisfy { $0 == ControlUpdate(done: 0) }, "\(keepalives)")
            spool.releaseFlushes()
            let withIDs = try await updates.collect(1) { $0.ids != nil }
            #expect(withIDs == [ControlUpdate(done: 1, ids: ["old"])])
            let response = try #require(try await client.value)
            #expect(response.ok)
            #expect(response.pruned == 1)
            #expect(response.jobs.isEmpty, "the answer counts; ids came as updates")
        }
    }
}
