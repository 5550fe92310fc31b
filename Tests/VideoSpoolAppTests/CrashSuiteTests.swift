import Foundation
import Logging
import Testing
import VideoSpoolCore
import VideoSpoolSimulator
import VideoSpoolStore
import VideoSpoolTesting

/// The built daemon killed with SIGKILL over and over while it works: nothing lost, nothing
/// submitted twice, every terminal event delivered to every callback with a stable webhook-id.
@Suite(.serialized, .timeLimit(.minutes(8)))
struct CrashSuiteTests {
    /// What the test waits for before a kill, so kills land in every phase of the pipeline.
    enum KillPoint: CustomStringConvertible {
        /// Right after new files were dropped: while files are read, validated and claimed.
        case whileClaiming
        /// After more submissions reached the API: POSTs and intents in flight.
        case afterSubmissions(Int)
        /// After more polls: generations being tracked.
        case afterPolls(Int)
        /// After more webhooks arrived: deliveries and outcome files being written.
        case afterWebhooks(Int)
        /// Right after a restart: during recovery.
        case duringRecovery

        var description: String {
            switch self {
            case .whileClaiming: "claim"
            case .afterSubmissions: "submit"
            case .afterPolls: "poll"
            case .afterWebhooks: "delivery+outcome"
            case .duringRecovery: "recovery"
            }
        }
    }

    static let jobCount = 300
    static let killPlan: [KillPoint] = (0..<6).flatMap { round -> [KillPoint] in
        [.whileClaiming, .afterSubmissions(3 + round), .afterPolls(5), .afterWebhooks(2 + round), .duringRecovery]
    }

    static func request(_ index: Int, hook: String) -> String {
        // Every third job has two callbacks; each must get the terminal event.
        let callbacks = index % 3 == 0 ? #""callback_urls": ["\#(hook)/a", "\#(hook)/b"]"# : #""callback_url": "\#(hook)/a""#
        return """
            {"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "crash \(index)", "job_id": "crash-\(index)",
             "duration": 5, \(callbacks)}
            """
    }

    @Test(arguments: StoreUnderTest.allCases)
    func killingTheDaemonThirtyTimesLosesNothingAndSubmitsNothingTwice(store backend: StoreUnderTest) async throws {
        let stateKeys = try await backend.stateKeys()
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(300))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port, extra: "", state: stateKeys)
                let hook = "http://127.0.0.1:\(port)/webhooks/crash"
                var api = simulator.api.subscribe().makeAsyncIterator()
                var webhooks = simulator.receiver.subscribe().makeAsyncIterator()
                var dropped = 0
                func drop(_ count: Int) throws {
                    for _ in 0..<count where dropped < Self.jobCount {
                        try EndToEndTests.drop(Self.request(dropped, hook: hook), as: "\(dropped).json", root: root)
                        dropped += 1
                    }
                }
                var run = 0
                var daemon = try EndToEndTests.start(config: config, root: root, run: run)
                var kills: [String] = []
                for point in Self.killPlan {
                    switch point {
                    case .whileClaiming:
                        try drop(Self.jobCount / Self.killPlan.count * 2)
                    case .afterSubmissions(let count):
                        // Enough new work that `count` more submissions will happen.
                        try drop(count + 2)
                        var seen = 0
                        while seen < count, let event = await api.next() { if case .accepted = event { seen += 1 } }
                    case .afterPolls(let count):
                        try drop(3)
                        var seen = 0
                        while seen < count, let event = await api.next() { if case .polled = event { seen += 1 } }
                    case .afterWebhooks(let count):
                        try drop(3)
                        for _ in 0..<count { _ = await webhooks.next() }
                    case .duringRecovery:
                        break
                    }
                    daemon.signal(SIGKILL)
                    _ = await daemon.waitForExit()
                    kills.append(point.description)
                    run += 1
                    daemon = try EndToEndTests.start(config: config, root: root, run: run)
                }
                try drop(Self.jobCount)

                // Every job's terminal event reaches every one of its callbacks.
                let expected = (0..<Self.jobCount).reduce(0) { $0 + ($1 % 3 == 0 ? 2 : 1) }
                let received = simulator.receiver.subscribe()
                let (firstSeen, repeats) = try await withTimeout(.seconds(240), waitingFor: "every job's webhooks") {
                    var firstSeen: [String: (type: String, webhookID: String)] = [:]
                    var reached = Set<String>()
                    var repeats = 0
                    for await item in received {
                        guard let id = item.json?["data"]?["job_id"]?.stringValue, let type = item.json?["type"]?.stringValue,
                            let webhookID = item.webhookID
                        else { continue }
                        if let earlier = firstSeen[id] {
                            #expect(earlier.webhookID == webhookID, "\(id): one event, one webhook-id, on every attempt")
                            #expect(earlier.type == type, "\(id): one terminal outcome")
                        } else {
                            firstSeen[id] = (type, webhookID)
                        }
                        if !reached.insert("\(id) \(item.path)").inserted { repeats += 1 }
                        if reached.count == expected { break }
                    }
                    return (firstSeen, repeats)
                }
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0)

                #expect(firstSeen.count == Self.jobCount, "every valid request reached a terminal outcome")
                var posts: [String: Int] = [:]
                for generation in simulator.api.generations { posts[generation.prompt, default: 0] += 1 }
                let twice = posts.filter { $0.value > 1 }
                #expect(twice.isEmpty, "submitted twice: \(twice)")
                let failed = firstSeen.filter { $0.value.type == "video.generation.failed" }
                for (id, _) in failed {
                    let outcome = try JSONParser().parse(Array(try Data(contentsOf: URL(fileURLWithPath: "\(root)/spool/failed/\(id).json"))))
                    #expect(outcome["data"]?["error"]?["code"] == .string("submission_outcome_unknown"), "\(id) failed for another reason")
                }
                for index in 0..<Self.jobCount {
                    let id = "crash-\(index)"
                    let kind = firstSeen[id]?.type == "video.generation.completed" ? "done" : "failed"
                    #expect(FileManager.default.fileExists(atPath: "\(root)/spool/\(kind)/\(id).json"), "\(id) has no outcome file")
                }
                // Every completed job's video was stored before it was announced, kills or not, and the
                // SHA-256 announced is that of the bytes on disk.
                for (id, seen) in firstSeen where seen.type == "video.generation.completed" {
                    let outcome = try JSONParser().parse(Array(try Data(contentsOf: URL(fileURLWithPath: "\(root)/spool/done/\(id).json"))))
                    let file = try #require(outcome["data"]?["video"]?["file"]?.stringValue, "\(id) was announced without its stored video")
                    let stored = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
                    #expect(outcome["data"]?["video"]?["sha256"] == .string(ContentDigest.sha256Hex(stored)), "\(id)")
                    #expect(outcome["data"]?["video"]?["bytes"] == .int(Int64(stored.count)), "\(id)")
                }
                let left = try FileManager.default.contentsOfDirectory(atPath: root + "/spool/incoming").filter { !$0.hasPrefix(".") }
                #expect(left.isEmpty, "left in incoming/: \(left)")
                if backend == .sqlite {
                    let store = try SQLiteJobStore(directory: root + "/state", readOnly: true)
                    #expect(try await store.integrityProblems().isEmpty)
                }
                print(
                    "crash suite (\(backend)): \(kills.count) SIGKILLs (\(Set(kills).sorted().joined(separator: ", "))), \(Self.jobCount) jobs, "
                        + "\(simulator.api.generations.count) POSTs accepted, 0 submitted twice, "
                        + "\(failed.count) failed as submission_outcome_unknown (killed mid-POST), "
                        + "\(repeats) deliveries repeated after a kill"
                )
            }
        }
    }

    @Test(arguments: StoreUnderTest.allCases)
    func sigtermUnderLoadFinishesInFlightWorkAndLosesNothing(store backend: StoreUnderTest) async throws {
        let stateKeys = try await backend.stateKeys()
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(300))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port, state: stateKeys)
                let hook = "http://127.0.0.1:\(port)/webhooks/term"
                let count = 120
                var daemon = try EndToEndTests.start(config: config, root: root, run: 0)
                for index in 0..<count {
                    try EndToEndTests.drop(Self.request(index, hook: hook).replacingOccurrences(of: "crash", with: "term"), as: "\(index).json", root: root)
                }
                _ = try await simulator.api.subscribe().collect(count / 2, within: .seconds(120)) {
                    if case .accepted = $0 { return true } else { return false }
                }
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0, "clean exit under load")
                daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                let received = simulator.receiver.subscribe()
                let finished = try await withTimeout(.seconds(180), waitingFor: "every job's webhook after the restart") {
                    var finished: [String: String] = [:]
                    for await item in received {
                        if let id = item.json?["data"]?["job_id"]?.stringValue, let type = item.json?["type"]?.stringValue {
                            finished[id] = type
                        }
                        if finished.count == count { break }
                    }
                    return finished
                }
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0)
                #expect(finished.values.allSatisfy { $0 == "video.generation.completed" }, "a graceful stop leaves nothing ambiguous")
                var posts: [String: Int] = [:]
                for generation in simulator.api.generations { posts[generation.prompt, default: 0] += 1 }
                #expect(posts.count == count && posts.values.allSatisfy { $0 == 1 })
            }
        }
    }
}
