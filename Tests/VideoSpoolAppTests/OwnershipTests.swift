#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolRuntime
import VideoSpoolSimulator
import VideoSpoolStore
import VideoSpoolTesting

/// One daemon per state directory and spool (issue 10, item 1), with the built binary: a second
/// daemon leaves with 75 naming the owner, whether started later or at the same instant, and no job
/// is POSTed twice; operator commands decide from the same lock whether to ask the daemon or write
/// the store, and never write behind a daemon's back.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct OwnershipTests {
    static func claims(_ root: String) -> [DaemonOwnership.Claim] {
        [.state(root + "/state"), .spool(root + "/spool")]
    }

    static func cli(_ arguments: [String], config: String, root: String) async throws -> (status: Int32, output: String) {
        try await DaemonProcess.run(arguments + ["--config", config], in: root)
    }

    /// Waits for the process to exit, failing clearly if it does not within `timeout`.
    static func exitStatus(of process: DaemonProcess, within timeout: Duration = .seconds(60)) async throws -> Int32 {
        do {
            return try await withTimeout(timeout, waitingFor: "PID \(process.pid) to exit") { await process.waitForExit() }
        } catch let error as TimedOut {
            // Which daemon hung, and where: the log is gone with the test's directory afterwards.
            throw EndedEarly("\(error); its log ends:\n\(process.logTail)")
        }
    }

    /// The number of POSTs the simulator accepted per prompt, for "no job POSTed twice".
    static func postsPerPrompt(_ simulator: Simulator) -> [String: Int] {
        var posts: [String: Int] = [:]
        for generation in simulator.api.generations { posts[generation.prompt, default: 0] += 1 }
        return posts
    }

    static func dropJobs(_ tags: [String], hook: String, root: String) throws {
        for tag in tags { try EndToEndTests.drop(EndToEndTests.request(tag: tag, hook: hook), as: tag + ".json", root: root) }
    }

    /// Collects one webhook per job of `tags`, and returns the `webhook-id`s each got.
    static func webhooks(
        for tags: [String],
        from received: AsyncStream<WebhookReceiver.Received>
    ) async throws -> [String: Set<String>] {
        let wanted = Set(tags)
        let items = try await received.collect(tags.count, within: .seconds(90)) { item in
            item.json?["data"]?["job_id"]?.stringValue.map(wanted.contains) == true
        }
        var ids: [String: Set<String>] = [:]
        for item in items {
            ids[item.json?["data"]?["job_id"]?.stringValue ?? "", default: []].insert(item.webhookID ?? "")
        }
        return ids
    }

    // MARK: - Two daemons

    @Test func aSecondDaemonStartedLaterExits75NamingTheOwnerAndNothingIsPostedTwice() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(200))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/owner"
                let first = try EndToEndTests.start(config: config, root: root, run: 1)
                try await first.line { $0.contains("videospool started") }
                let received = simulator.receiver.subscribe()
                let tags = (0..<20).map { "later-\($0)" }
                try Self.dropJobs(tags, hook: hook, root: root)

                let second = try EndToEndTests.start(config: config, root: root, run: 2)
                // Read from the pipe, which has all of it once it ends (the log file may lag behind).
                let refusal = try await second.line { $0.contains("Cannot start") }
                #expect(try await Self.exitStatus(of: second) == 75, "\(second.log)")
                #expect(refusal.contains("PID \(first.pid)"), "the message names the owner: \(refusal)")
                #expect(refusal.contains(root + "/state"), "and the directory: \(refusal)")
                #expect(!second.log.contains("videospool started"))

                // The owner is undisturbed: every job once, one webhook-id each.
                let ids = try await Self.webhooks(for: tags, from: received)
                #expect(ids.count == tags.count && ids.values.allSatisfy { $0.count == 1 }, "\(ids)")
                #expect(Self.postsPerPrompt(simulator).values.allSatisfy { $0 == 1 }, "no job POSTed twice")
                #expect(Self.postsPerPrompt(simulator).count == tags.count)
                first.signal(SIGTERM)
                #expect(try await Self.exitStatus(of: first) == 0, "\(first.log)")
            }
        }
    }

    @Test func daemonsStartedAtTheSameInstantLeaveExactlyOneRunning() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(200))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/race"
                var allTags: [String] = []
                // Later rounds start over a lock file that names the previous round's (dead) owner.
                for round in 1...3 {
                    let tags = (0..<10).map { "race-\(round)-\($0)" }
                    allTags += tags
                    // Waiting in incoming/, so both daemons would submit them at once if both ran.
                    try Self.dropJobs(tags, hook: hook, root: root)
                    let received = simulator.receiver.subscribe()
                    let pair = [
                        try EndToEndTests.start(config: config, root: root, run: round * 10 + 1),
                        try EndToEndTests.start(config: config, root: root, run: round * 10 + 2),
                    ]
                    try await eventually(timeout: .seconds(60), "one of the two daemons to exit") {
                        pair.contains { !$0.process.isRunning }
                    }
                    let exited = pair.filter { !$0.process.isRunning }
                    #expect(exited.count == 1, "exactly one of the two leaves")
                    guard let loser = exited.first, let winner = pair.first(where: { $0 !== loser }) else { continue }
                    let refusal = try await loser.line { $0.contains("Cannot start") }
                    #expect(try await Self.exitStatus(of: loser) == 75, "\(loser.log)")
                    #expect(refusal.contains("PID \(winner.pid)"), "round \(round): names the owner: \(refusal)")
                    #expect(refusal.contains(root + "/state"), "\(refusal)")
                    #expect(winner.process.isRunning, "the other one runs: \(winner.log)")

                    let ids = try await Self.webhooks(for: tags, from: received)
                    #expect(ids.count == tags.count && ids.values.allSatisfy { $0.count == 1 }, "round \(round): \(ids)")
                    winner.signal(SIGTERM)
                    #expect(try await Self.exitStatus(of: winner) == 0, "\(winner.log)")
                }
                let posts = Self.postsPerPrompt(simulator)
                #expect(posts.count == allTags.count)
                #expect(posts.filter { $0.value > 1 }.isEmpty, "no job POSTed twice: \(posts.filter { $0.value > 1 })")
            }
        }
    }

    // MARK: - Operator commands

    /// A stopped daemon's store with one generating job, `slow`.
    static func storeWithAGeneratingJob(root: String, simulator: Simulator, port: Int) async throws -> String {
        let config = try EndToEndTests.configure(root: root, port: port)
        let hook = "http://127.0.0.1:\(port)/webhooks/ops"
        let api = simulator.api.subscribe()
        let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
        try EndToEndTests.drop(
            OperatorCommandTests.request("slow", prompt: "clip [sim:never]", hook: hook),
            as: "slow.json",
            root: root
        )
        _ = try await api.collect(1) { if case .accepted = $0 { return true } else { return false } }
        daemon.signal(SIGTERM)
        #expect(try await Self.exitStatus(of: daemon) == 0, "\(daemon.log)")
        return config
    }

    static func state(of job: String, config: String, root: String) async throws -> String? {
        let listed = try await Self.cli(["list", "--json"], config: config, root: root)
        return try OperatorCommandTests.json(listed.output).arrayValue?
            .first { $0["job_id"]?.stringValue == job }?["state"]?.stringValue
    }

    /// A daemon takes its locks a moment before it binds its control socket: a command that comes
    /// in between waits for the socket (saying so) instead of failing.
    @Test func aCommandWaitsForTheSocketOfADaemonThatIsStarting() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try await Self.storeWithAGeneratingJob(root: root, simulator: simulator, port: port)
                // This process plays a daemon that has taken its locks and not yet bound its socket.
                let owner = try DaemonOwnership.claimNow(Self.claims(root))
                defer { owner.release() }
                let cancel = try DaemonProcess(arguments: ["cancel", "slow", "--config", config], logPath: root + "/cancel.log")
                _ = try await cancel.line { $0.contains("has not opened its control socket yet") }

                // Now the socket opens, served over the store as the daemon would serve it.
                let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
                let control = JobControl(
                    store: try SQLiteJobStore(directory: root + "/state"),
                    spool: LocalSpoolDirectory(root: root + "/spool"),
                    time: SystemTimeSource(),
                    logger: quiet
                )
                let service = ControlService(path: ControlClient.socketPath(stateDirectory: root + "/state"), control: control, logger: quiet)
                let server = Task { try await service.run() }
                defer { server.cancel() }
                #expect(try await Self.exitStatus(of: cancel) == 0, "\(cancel.log)")
                #expect(cancel.log.contains("done by the running daemon"), "\(cancel.log)")
            }
        }
    }

    @Test func operatorCommandsNeverWriteBehindADaemonThatDoesNotAnswer() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try await Self.storeWithAGeneratingJob(root: root, simulator: simulator, port: port)

                // A daemon that owns the store but has no control socket yet (starting): played by
                // this process, which takes the daemon's locks.
                let owner = try DaemonOwnership.claimNow(Self.claims(root))
                let refused = try await Self.cli(["cancel", "slow"], config: config, root: root)
                #expect(refused.status == 75, "\(refused.output)")
                #expect(refused.output.contains("PID \(getpid())") && refused.output.contains("does not answer"), "\(refused.output)")
                let pruned = try await Self.cli(["prune", "--older-than", "0s"], config: config, root: root)
                #expect(pruned.status == 75, "\(pruned.output)")
                // Reading is fine beside it; and nothing was written.
                #expect(try await Self.state(of: "slow", config: config, root: root) == "generating")

                owner.release()
                let canceled = try await Self.cli(["cancel", "slow"], config: config, root: root)
                #expect(canceled.status == 0 && canceled.output.contains("not running"), "\(canceled.output)")
                #expect(try await Self.state(of: "slow", config: config, root: root) == "delivering")
            }
        }
    }

    /// The PIDs holding a shared (READ) flock on `path`, from /proc/locks.
    static func sharedHolders(of path: String) throws -> Set<Int32> {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        let text = try String(contentsOfFile: "/proc/locks", encoding: .utf8)
        var pids: Set<Int32> = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // "1: FLOCK  ADVISORY  READ  1234 08:01:5678 0 EOF"
            guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "READ" else { continue }
            if fields[5].split(separator: ":").last.flatMap({ UInt64($0) }) == UInt64(info.st_ino), let pid = Int32(fields[4]) {
                pids.insert(pid)
            }
        }
        return pids
    }

    @Test func aDaemonStartingWhileACommandWritesTheStoreWaitsForIt() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try await Self.storeWithAGeneratingJob(root: root, simulator: simulator, port: port)
                let received = simulator.receiver.subscribe()

                // Something else holds SQLite's write lock, so the command blocks inside its write.
                let blocker = try await SQLiteWriteBlocker.lock(root + "/state/videospool.sqlite")
                defer { blocker.release() }
                let command = try DaemonProcess(
                    arguments: ["cancel", "slow", "--config", config],
                    logPath: root + "/cancel.log",
                    streamingLines: false
                )
                // It holds the lock (shared) while it works on the store.
                try await eventually(timeout: .seconds(30), "the command to hold the state directory's lock") {
                    try Self.sharedHolders(of: root + "/state/videospool.lock").contains(command.pid)
                }
                let daemon = try EndToEndTests.start(config: config, root: root, run: 2)
                try await daemon.line { $0.contains("Waiting for videospool commands to finish with the store") }
                #expect(command.process.isRunning)

                blocker.release()
                #expect(try await Self.exitStatus(of: command) == 0, "\(command.log)")
                #expect(command.log.contains("not running"), "applied to the store: \(command.log)")
                try await daemon.line { $0.contains("videospool started") }
                // The daemon picks up what the command committed: the canceled event goes out.
                let hooks = try await received.collect(1, within: .seconds(60)) { $0.json?["data"]?["job_id"] == .string("slow") }
                #expect(hooks.first?.json?["type"] == .string("video.generation.canceled"))
                daemon.signal(SIGTERM)
                #expect(try await Self.exitStatus(of: daemon) == 0, "\(daemon.log)")
            }
        }
    }

    @Test func aDaemonGivesUpWith75WhenCommandsKeepTheStoreBusy() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                for directory in ["/state", "/spool"] {
                    try FileManager.default.createDirectory(atPath: root + directory, withIntermediateDirectories: true)
                }
                guard case .free(let lease) = try DaemonOwnership.probe(Self.claims(root)) else {
                    Issue.record("no daemon runs, so the probe should grant the lock")
                    return
                }
                defer { lease.release() }
                let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                try await daemon.line { $0.contains("Waiting for videospool commands") }
                let refusal = try await daemon.line(within: .seconds(60)) { $0.contains("Cannot start") }
                #expect(try await Self.exitStatus(of: daemon) == 75, "\(daemon.log)")
                #expect(refusal.contains("in use by videospool commands") && refusal.contains(root + "/state"), "\(refusal)")
            }
        }
    }
}

/// Holds SQLite's write lock on a database (`BEGIN IMMEDIATE` in a Python process) until released.
final class SQLiteWriteBlocker: @unchecked Sendable {
    // @unchecked: `process` and `input` are only touched by the test that owns this object.
    private let process = Process()
    private let input = Pipe()

    /// Returns once the lock is held (Python says so); the wait for that line runs on a thread of
    /// its own, not on the cooperative pool.
    static func lock(_ database: String) async throws -> SQLiteWriteBlocker {
        let (made, continuation) = AsyncStream.makeStream(of: Result<SQLiteWriteBlocker, any Error>.self)
        Thread {
            continuation.yield(Result { try SQLiteWriteBlocker(database: database) })
            continuation.finish()
        }.start()
        for await result in made { return try result.get() }
        throw EndedEarly("no answer from the thread starting python3")
    }

    private init(database: String) throws {
        let script = """
            import sqlite3, sys
            connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
            connection.execute("BEGIN IMMEDIATE")
            print("locked", flush=True)
            sys.stdin.read()
            connection.execute("ROLLBACK")
            """
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, database]
        process.standardInput = input
        process.standardOutput = output
        // Never the test run's own output: a python3 left behind would hold it open, and
        // `swift test` waits for its end before it reports.
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The lock is held once it says so.
        let line = output.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).hasPrefix("locked") else {
            release()
            throw EndedEarly("python3 could not lock \(database)")
        }
    }

    /// Ends python3 and with it the lock. Closing its input would be enough, but a child spawned
    /// meanwhile by another test may have inherited the pipe's writing end; a lock left held (and a
    /// python3 left alive) would outlive the test.
    func release() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
