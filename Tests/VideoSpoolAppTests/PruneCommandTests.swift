import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolSimulator
import VideoSpoolStore

/// `videospool prune` answers with a count, prints ids only when asked (one a line, as batches are
/// deleted, through the daemon or on the store alike), and `list --limit` has a bound.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PruneCommandTests {
    /// Finished jobs `ids` that ended `age` ago, written to the store as the daemon would leave them.
    static func finished(_ ids: [String], endedAgo age: Duration, stateDirectory: String) async throws {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let store = try SQLiteJobStore(directory: stateDirectory)
        let ended = SystemTimeSource().now() - age
        for id in ids {
            var job = Job(
                id: try #require(JobID(id)),
                phase: .queued,
                model: "bytedance/dreamina-seedance-2-0-mini",
                callbackURLs: [],
                metadata: nil,
                acceptedAt: ended - .seconds(60),
                sourceName: id + ".json",
                parameters: GenerationParameters(resolution: "480p", durationSeconds: 5)
            )
            let source = SourceFile(name: job.sourceName, sha256: id, disposition: .remove)
            try await store.commit([.insertJob(job, requestBody: Array("{}".utf8), source: source), .sourceSettled(job.id)])
            job.phase = .completed
            job.finishedAt = ended
            job.videoURL = "https://cdn.example.com/\(id).mp4"
            try await store.commit([.updateJob(job), .outcomeWritten(job.id, version: 1)])
        }
    }

    static func cli(_ arguments: [String], config: String, root: String) async throws -> (status: Int32, output: String) {
        try await OperatorCommandTests.cli(arguments, config: config, root: root)
    }

    static func lines(_ output: String) -> [String] {
        output.split(separator: "\n").map(String.init)
    }

    @Test func pruneCountsAndPrintsIdsOnlyWhenAsked() async throws {
        try await withTemporaryDirectory { root in
            let state = root + "/state"
            try await Self.finished(["old-1", "old-2", "old-3"], endedAgo: .seconds(4 * 86_400), stateDirectory: state)
            try await Self.finished(["mid-1", "mid-2"], endedAgo: .seconds(3 * 86_400), stateDirectory: state)
            try await Self.finished(["new-1", "new-2"], endedAgo: .seconds(2 * 86_400), stateDirectory: state)
            try await Self.finished(["keep"], endedAgo: .seconds(60), stateDirectory: state)
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                for directory in ["incoming", "done", "failed", "rejected"] {  // as a daemon's first start leaves them
                    try FileManager.default.createDirectory(atPath: root + "/spool/" + directory, withIntermediateDirectories: true)
                }

                // On the store of a stopped daemon: ids one a line, then the count.
                let stopped = try await Self.cli(["prune", "--older-than", "84h", "--ids"], config: config, root: root)
                #expect(stopped.status == 0, "\(stopped.output)")
                let stoppedLines = Self.lines(stopped.output)
                #expect(Array(stoppedLines.prefix(3)) == ["old-1", "old-2", "old-3"], "\(stopped.output)")
                #expect(stoppedLines.contains { $0.hasPrefix("pruned 3 finished job(s)") }, "\(stopped.output)")
                #expect(stopped.output.contains("not running"), "\(stopped.output)")

                let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                try await daemon.line { $0.contains("videospool started") }

                // Through the daemon: the ids come over the control socket as update lines.
                let running = try await Self.cli(["prune", "--older-than", "60h", "--ids"], config: config, root: root)
                #expect(running.status == 0, "\(running.output)")
                let runningLines = Self.lines(running.output)
                #expect(Array(runningLines.prefix(2)) == ["mid-1", "mid-2"], "\(running.output)")
                #expect(runningLines.contains { $0.hasPrefix("pruned 2 finished job(s)") }, "\(running.output)")
                #expect(running.output.contains("done by the running daemon"), "\(running.output)")

                // Without --ids, a count and no ids; with --json --ids, the ids in the document.
                let counted = try await Self.cli(["prune", "--older-than", "36h", "--json"], config: config, root: root)
                #expect(counted.status == 0, "\(counted.output)")
                let document = try OperatorCommandTests.json(counted.output)
                #expect(document["pruned"] == .int(2), "\(counted.output)")
                #expect(document["jobs"] == .array([]), "\(counted.output)")
                #expect(!counted.output.contains("new-1"))

                try await Self.finished(["more-1"], endedAgo: .seconds(2 * 86_400), stateDirectory: state)
                let listed = try await Self.cli(["prune", "--older-than", "36h", "--json", "--ids"], config: config, root: root)
                let listedDocument = try OperatorCommandTests.json(listed.output)
                #expect(listedDocument["pruned"] == .int(1), "\(listed.output)")
                #expect(listedDocument["jobs"] == .array([.string("more-1")]), "\(listed.output)")
                #expect(listedDocument["via"] == .string("daemon"), "\(listed.output)")

                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0, "\(daemon.logTail)")
                let left = try await Self.cli(["list", "--json"], config: config, root: root)
                let ids = (try OperatorCommandTests.json(left.output).arrayValue ?? []).compactMap { $0["job_id"]?.stringValue }
                #expect(ids == ["keep"], "\(left.output)")
            }
        }
    }

    @Test func listRefusesALimitAboveItsBound() async throws {
        try await withTemporaryDirectory { root in
            try await Self.finished(["one"], endedAgo: .seconds(60), stateDirectory: root + "/state")
            let config = try EndToEndTests.configure(root: root, port: 9)
            let refused = try await Self.cli(["list", "--limit", "10001"], config: config, root: root)
            #expect(refused.status == 64, "\(refused.output)")
            #expect(refused.output.contains("--limit must be between 1 and 10000"), "\(refused.output)")
            let zero = try await Self.cli(["list", "--limit", "0"], config: config, root: root)
            #expect(zero.status == 64, "\(zero.output)")
            let largest = try await Self.cli(["list", "--limit", "10000", "--json"], config: config, root: root)
            #expect(largest.status == 0, "\(largest.output)")
            #expect((try OperatorCommandTests.json(largest.output).arrayValue ?? []).count == 1)
        }
    }
}
