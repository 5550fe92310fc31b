import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolSimulator
import VideoSpoolSupport
import VideoSpoolTesting

/// Several daemons on one PostgreSQL store, as separate processes of the built binary against the
/// simulator: a daemon's death, a shared spool, a cancel asked from another host, an outage of
/// the database. (Network partitions, frozen hosts and clocks: `make failover-test`.)
@Suite(.serialized, .timeLimit(.minutes(5)))
struct SharedStoreTests {
    /// Writes the config of daemon `name` under `root`, on the shared store `stateKeys`.
    static func configure(
        _ name: String,
        root: String,
        port: Int,
        stateKeys: String,
        spool: String? = nil
    ) throws -> String {
        let home = root + "/" + name
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        var config = try EndToEndTests.configure(root: home, port: port, state: stateKeys)
        if let spool {
            let text = try String(contentsOfFile: config, encoding: .utf8)
                .replacingOccurrences(of: "directory: \(home)/spool\n", with: "directory: \(spool)\n")
            try text.write(toFile: config, atomically: true, encoding: .utf8)
        }
        config = home + "/videospool.yaml"
        return config
    }

    static func request(_ index: Int, hook: String) -> String {
        """
        {"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "shared \(index)", "duration": 5,
         "job_id": "shared-\(index)", "callback_url": "\(hook)"}
        """
    }

    /// Every job's terminal webhooks, by job id: (event type, webhook-id) of each receipt.
    static func webhooks(
        _ simulator: Simulator,
        count: Int,
        within seconds: Double = 120
    ) async throws -> [String: [(type: String, webhookID: String)]] {
        let received = simulator.receiver.subscribe()
        return try await withTimeout(.seconds(seconds), waitingFor: "\(count) jobs' webhooks") {
            var seen: [String: [(type: String, webhookID: String)]] = [:]
            for await item in received {
                guard let id = item.json?["data"]?["job_id"]?.stringValue, let type = item.json?["type"]?.stringValue
                else { continue }
                seen[id, default: []].append((type, item.webhookID ?? ""))
                if seen.count == count { break }
            }
            return seen
        }
    }

    @Test func aDaemonKilledMidGenerationIsTakenOverAndEveryJobEndsOnce() async throws {
        let stateKeys = try await StoreUnderTest.postgresql.stateKeys()
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .seconds(3))
            try await simulator.withRunningServer { port in
                let hook = "http://127.0.0.1:\(port)/webhooks/shared"
                let configA = try Self.configure("a", root: root, port: port, stateKeys: stateKeys)
                let configB = try Self.configure("b", root: root, port: port, stateKeys: stateKeys)
                var a = try EndToEndTests.start(config: configA, root: root + "/a", run: 0)
                let b = try EndToEndTests.start(config: configB, root: root + "/b", run: 0)
                let count = 12
                for index in 0..<count { try EndToEndTests.drop(Self.request(index, hook: hook), as: "\(index).json", root: root + "/a") }
                // A has submitted them all and polls every one (so each generation id is recorded): it
                // dies with every generation in flight.
                let events = simulator.api.subscribe()
                _ = try await withTimeout(.seconds(60), waitingFor: "a poll of every generation") {
                    var polled = Set<String>()
                    for await event in events {
                        if case .polled(let generation) = event { polled.insert(generation) }
                        if polled.count == count { break }
                    }
                }
                a.signal(SIGKILL)
                _ = await a.waitForExit()

                let seen = try await Self.webhooks(simulator, count: count)
                #expect(seen.values.allSatisfy { $0.allSatisfy { $0.type == "video.generation.completed" } })
                #expect(seen.values.allSatisfy { Set($0.map(\.webhookID)).count == 1 }, "one webhook-id per job")
                var posts: [String: Int] = [:]
                for generation in simulator.api.generations { posts[generation.prompt, default: 0] += 1 }
                #expect(posts.count == count && posts.values.allSatisfy { $0 == 1 }, "never POSTed twice: \(posts)")
                _ = try await b.line(where: { $0.contains("event=jobs.taken_over") })

                // The outcome files belong to the spool the requests came from: A writes them when
                // it is back.
                #expect(!FileManager.default.fileExists(atPath: root + "/b/spool/done/shared-0.json"))
                a = try EndToEndTests.start(config: configA, root: root + "/a", run: 1)
                try await eventually(timeout: .seconds(60), "A's outcome files") {
                    (0..<count).allSatisfy { FileManager.default.fileExists(atPath: root + "/a/spool/done/shared-\($0).json") }
                }
                for daemon in [a, b] {
                    daemon.signal(SIGTERM)
                    #expect(await daemon.waitForExit() == 0)
                }
            }
        }
    }

    @Test func twoDaemonsSharingASpoolDirectoryMakeOneJobOfEachFile() async throws {
        let stateKeys = try await StoreUnderTest.postgresql.stateKeys()
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(200))
            try await simulator.withRunningServer { port in
                let hook = "http://127.0.0.1:\(port)/webhooks/spool"
                let spool = root + "/shared-spool"
                let configs = try ["a", "b"].map { try Self.configure($0, root: root, port: port, stateKeys: stateKeys, spool: spool) }
                let daemons = try configs.enumerated().map { index, config in
                    try EndToEndTests.start(config: config, root: root + "/" + ["a", "b"][index], run: 0)
                }
                let count = 60
                for index in 0..<count {
                    // Some without a job_id: the store, not the id, must make one job of the file.
                    let text = index.isMultiple(of: 2)
                        ? Self.request(index, hook: hook)
                        : Self.request(index, hook: hook).replacingOccurrences(of: #""job_id": "shared-\#(index)", "#, with: "")
                    let incoming = spool + "/incoming"
                    try FileManager.default.createDirectory(atPath: incoming, withIntermediateDirectories: true)
                    try text.write(toFile: incoming + "/.\(index).tmp", atomically: false, encoding: .utf8)
                    try FileManager.default.moveItem(atPath: incoming + "/.\(index).tmp", toPath: incoming + "/\(index).json")
                }
                let received = try await withTimeout(.seconds(120), waitingFor: "\(count) webhooks") {
                    try await simulator.receiver.subscribe().collect(count)
                }
                #expect(received.allSatisfy { $0.json?["type"] == .string("video.generation.completed") })
                var posts: [String: Int] = [:]
                for generation in simulator.api.generations { posts[generation.prompt, default: 0] += 1 }
                #expect(posts.count == count && posts.values.allSatisfy { $0 == 1 }, "one job per file: \(posts)")
                let rejected = (try? FileManager.default.contentsOfDirectory(atPath: spool + "/rejected")) ?? []
                #expect(rejected.isEmpty, "no file rejected as a duplicate of itself: \(rejected)")
                try await eventually(timeout: .seconds(30), "an empty incoming/ and every outcome file") {
                    let left = try FileManager.default.contentsOfDirectory(atPath: spool + "/incoming").filter { !$0.hasPrefix(".") }
                    let done = try FileManager.default.contentsOfDirectory(atPath: spool + "/done").filter { $0.hasSuffix(".json") }
                    return left.isEmpty && done.count == count
                }
                let accepted = daemons.map { daemon in daemon.log.components(separatedBy: "event=request.accepted").count - 1 }
                #expect(accepted.reduce(0, +) == count, "each file accepted once, by one of them: \(accepted)")
                for daemon in daemons {
                    daemon.signal(SIGTERM)
                    #expect(await daemon.waitForExit() == 0)
                }
            }
        }
    }

    @Test func aCancelAskedOnAnotherHostIsCarriedOutByTheDaemonThatHoldsTheJob() async throws {
        let stateKeys = try await StoreUnderTest.postgresql.stateKeys()
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .seconds(600))
            try await simulator.withRunningServer { port in
                let hook = "http://127.0.0.1:\(port)/webhooks/cancel"
                let configA = try Self.configure("a", root: root, port: port, stateKeys: stateKeys)
                let configB = try Self.configure("b", root: root, port: port, stateKeys: stateKeys)
                let a = try EndToEndTests.start(config: configA, root: root + "/a", run: 0)
                let b = try EndToEndTests.start(config: configB, root: root + "/b", run: 0)
                try EndToEndTests.drop(Self.request(1, hook: hook), as: "1.json", root: root + "/a")
                _ = try await simulator.api.subscribe().collect(1, within: .seconds(60)) {
                    if case .polled = $0 { return true } else { return false }
                }
                _ = try await b.line(where: { $0.contains("event=daemon.ready") })
                let result = try await DaemonProcess.run(["cancel", "shared-1", "--config", configB], in: root)
                #expect(result.status == 0, "\(result.output)")
                #expect(result.output.contains("asked the daemon that holds shared-1"), "\(result.output)")
                let received = try await withTimeout(.seconds(60), waitingFor: "the canceled webhook") {
                    try await simulator.receiver.subscribe().collect(1)
                }
                #expect(received.first?.json?["type"] == .string("video.generation.canceled"))
                try await eventually(timeout: .seconds(30), "the outcome file in the request's own spool") {
                    FileManager.default.fileExists(atPath: root + "/a/spool/failed/shared-1.json")
                }
                for daemon in [a, b] {
                    daemon.signal(SIGTERM)
                    #expect(await daemon.waitForExit() == 0)
                }
            }
        }
    }

    /// The database goes away under a running daemon for longer than three watchdog periods and
    /// longer than the lease: work stalls, `STATUS=` says why, the watchdog stays fed, the daemon
    /// registers again when the database is back, and every job finishes, none submitted twice.
    @Test func aDatabaseOutageStallsWorkKeepsTheWatchdogFedAndLosesNothing() async throws {
        let server = try PostgresTestServer.start(tcp: true)
        defer { try? server.stop() }
        let database = try server.createDatabase()
        let stateKeys = """
              backend: postgresql
              postgresql:
                url: "postgresql://\(PostgresTestServer.superuser)@127.0.0.1:\(server.port)/\(database)?sslmode=disable"
                lease_seconds: 3
                claim_interval_seconds: 0.2
                reaper_interval_seconds: 0.5

            """
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .seconds(4))
            try await simulator.withRunningServer { port in
                let hook = "http://127.0.0.1:\(port)/webhooks/outage"
                let config = try Self.configure("a", root: root, port: port, stateKeys: stateKeys)
                let notify = try NotifySocket(path: root + "/notify")
                defer { notify.close() }
                let daemon = try DaemonProcess(
                    arguments: ["run", "--config", config],
                    logPath: root + "/daemon.log",
                    environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"]
                )
                let notifications = ReplayingBroadcast<ResourceLimitTests.NotifyDatagram>()
                let reader = Task {
                    for await text in notify.datagrams {
                        notifications.append(ResourceLimitTests.NotifyDatagram(text: text, at: .now))
                    }
                }
                defer { reader.cancel() }
                _ = try await withTimeout(.seconds(60), waitingFor: "READY=1") {
                    try await notifications.subscribe().collect(1) { $0.text.contains("READY=1") }
                }
                let count = 6
                for index in 0..<count { try EndToEndTests.drop(Self.request(index, hook: hook), as: "\(index).json", root: root + "/a") }
                // Every generation id recorded (each polled once) before the database goes away: a
                // POST whose answer could not be recorded would rightly end as an ambiguous submission.
                let events = simulator.api.subscribe()
                do {
                    _ = try await withTimeout(.seconds(60), waitingFor: "a poll of every generation") {
                        var polled = Set<String>()
                        for await event in events {
                            if case .polled(let generation) = event { polled.insert(generation) }
                            if polled.count == count { break }
                        }
                    }
                } catch {
                    print("daemon log (tail):", daemon.log.suffix(3000))
                    throw error
                }

                try server.stop()
                let down = ContinuousClock.now
                let unavailable = try await withTimeout(.seconds(30), waitingFor: "STATUS= saying the store is unavailable") {
                    try #require(
                        try await notifications.subscribe().collect(1) {
                            $0.at >= down && $0.status?.contains("store unavailable: database") == true
                        }.first
                    )
                }
                // Longer than three watchdog periods and than the lease.
                let hold = Duration.seconds(7)
                _ = try await withTimeout(.seconds(60), waitingFor: "WATCHDOG=1 \(hold) into the outage") {
                    try await notifications.subscribe().collect(1) { $0.isWatchdog && $0.at - down >= hold }
                }
                let pings = notifications.history.filter { $0.isWatchdog && $0.at >= down - .seconds(2) }
                let gaps = zip(pings.dropFirst(), pings).map { ($0.at - $1.at).secondsDouble }
                #expect((gaps.max() ?? .infinity) < 2, "the watchdog was fed all through the outage: gaps \(gaps)")
                try server.start()

                let seen = try await Self.webhooks(simulator, count: count)
                #expect(seen.values.allSatisfy { $0.allSatisfy { $0.type == "video.generation.completed" } }, "\(seen)")
                var posts: [String: Int] = [:]
                for generation in simulator.api.generations { posts[generation.prompt, default: 0] += 1 }
                #expect(posts.count == count && posts.values.allSatisfy { $0 == 1 }, "never POSTed twice: \(posts)")
                _ = try await daemon.line(where: { $0.contains("event=database.recovered") })
                print(
                    "database outage: STATUS=\(unavailable.status ?? "-"); \(pings.count) pings over the outage, "
                        + "longest gap \(gaps.max() ?? 0) s"
                )
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0)
            }
        }
    }
}
