import Foundation
import Logging
import ServiceLifecycle
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolRuntime
import VideoSpoolSimulator
import VideoSpoolTesting

/// The real daemon (file system spool, SQLite store, AsyncHTTPClient) against the simulator and its
/// webhook receiver on loopback.
@Suite(.timeLimit(.minutes(2)))
struct DaemonIntegrationTests {
    static let secret = try! WebhookSecret(parsing: testSecretText)

    static func settings(root: String, port: Int) -> DaemonSettings {
        var settings = DaemonSettings()
        settings.spoolDirectory = root + "/spool"
        settings.stateDirectory = root + "/state"
        settings.apiBaseURL = "http://127.0.0.1:\(port)"
        settings.pollFirstDelaySeconds = 0.05
        settings.pollIntervalSeconds = 0.05
        settings.allowPrivateNetworks = true
        settings.webhookRetryScheduleSeconds = [0.05, 0.05, 0.05]
        settings.settleSeconds = 0.2
        settings.pauseSeconds = 0.05
        return settings
    }

    static func simulator(generation: Duration = .milliseconds(100), key: String = "test-key") -> Simulator {
        Simulator(
            configuration: SimulatorConfiguration(
                apiKey: key,
                queuedTime: .milliseconds(20),
                generationTime: .fixed(generation),
                // Served on loopback, so the daemon stores real videos (results.download is on).
                videoBaseURL: nil,
                webhookSecret: secret
            ),
            logger: Logger(label: "simulator", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// Runs a daemon until `body` returns, then stops it gracefully.
    static func withDaemon<Result: Sendable>(
        _ settings: DaemonSettings,
        key: String = "test-key",
        _ body: @escaping @Sendable (Daemon) async throws -> Result
    ) async throws -> Result {
        let daemon = try Daemon.make(
            settings: settings,
            credentials: Credentials(apiKey: key, webhookSecret: secret),
            logger: Logger(label: "videospool", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        return try await daemon.run(while: body)
    }

    static func request(_ prompt: String, callback: String, extra: String = "") -> String {
        """
        {"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "\(prompt)", "duration": "5",
         "callback_url": "\(callback)", "metadata": {"tag": "\(prompt)"}\(extra)}
        """
    }

    static func drop(_ text: String, as name: String, into directory: String) throws {
        try write(text, to: directory + "/." + name + ".tmp")
        try FileManager.default.moveItem(atPath: directory + "/." + name + ".tmp", toPath: directory + "/" + name)
    }

    @Test func requestFilesBecomeSignedWebhooksAndOutcomeFiles() async throws {
        try await withTemporaryDirectory { root in
            let simulator = Self.simulator()
            try await simulator.withRunningServer { port in
                let settings = Self.settings(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/it"
                let received = try await Self.withDaemon(settings) { daemon in
                    let incoming = daemon.spool.incoming
                    try Self.drop(Self.request("first", callback: hook, extra: #", "job_id": "it-1""#), as: "one.json", into: incoming)
                    try Self.drop(Self.request("second", callback: hook), as: "two.json", into: incoming)
                    try Self.drop(#"{"model": "bytedance/dreamina-seedance-2-0-mini", "promt": "x", "callback_url": "\#(hook)"}"#, as: "bad.json", into: incoming)
                    return try await simulator.receiver.subscribe().collect(3)
                }
                #expect(received.allSatisfy { $0.signatureValid == true })
                let types = received.compactMap { $0.json?["type"]?.stringValue }.sorted()
                #expect(types == ["video.generation.completed", "video.generation.completed", "video.generation.rejected"])
                #expect(simulator.api.statistics.acceptedSubmissions == 2)

                let spool = root + "/spool"
                let done = try FileManager.default.contentsOfDirectory(atPath: spool + "/done").sorted()
                #expect(done.count == 2 && done.contains("it-1.json"))
                let outcome = try JSONParser().parse(Array(try Data(contentsOf: URL(fileURLWithPath: spool + "/done/it-1.json"))))
                #expect(outcome["data"]?["metadata"]?["tag"] == .string("first"))
                #expect(outcome["deliveries"]?.arrayValue?.first?["state"] == .string("delivered"))
                #expect(try FileManager.default.contentsOfDirectory(atPath: spool + "/incoming").isEmpty)
                let report = try JSONParser().parse(
                    Array(try Data(contentsOf: URL(fileURLWithPath: spool + "/rejected/bad.json.error.json")))
                )
                let messages = report["errors"]?.arrayValue?.compactMap { $0["message"]?.stringValue } ?? []
                #expect(messages.contains("unknown field 'promt'; did you mean 'prompt'?"))
                #expect(FileManager.default.fileExists(atPath: spool + "/rejected/bad.json"))
            }
        }
    }

    @Test func aRestartResumesPollingAndNeverSubmitsTwice() async throws {
        try await withTemporaryDirectory { root in
            // Generations run until the test says otherwise, so the first daemon certainly stops
            // while they run, however slowly it stops.
            let simulator = Self.simulator(generation: .seconds(3600))
            try await simulator.withRunningServer { port in
                let settings = Self.settings(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/restart"
                let count = 6
                try await Self.withDaemon(settings) { daemon in
                    for index in 0..<count {
                        try Self.drop(Self.request("job \(index)", callback: hook), as: "\(index).json", into: daemon.spool.incoming)
                    }
                    // Stop once every job has been submitted, before any has finished.
                    _ = try await simulator.api.subscribe().collect(count) {
                        if case .accepted = $0 { return true }
                        return false
                    }
                }
                #expect(simulator.receiver.received.isEmpty)
                // Upstream, the videos are ready now: every poll of the restarted daemon says so.
                simulator.api.setFaults([FaultRule(endpoint: .poll, fault: .reportStatus("completed"))])
                let received = try await Self.withDaemon(settings) { _ in
                    try await simulator.receiver.subscribe().collect(count)
                }
                #expect(received.count == count)
                #expect(simulator.api.statistics.acceptedSubmissions == count, "nothing was submitted twice")
                #expect(Set(received.compactMap(\.webhookID)).count == count)
            }
        }
    }

    @Test func anUnacceptedKeyPausesSubmissionsUntilTheAPIAcceptsIt() async throws {
        try await withTemporaryDirectory { root in
            let simulator = Self.simulator(key: "the-real-key")
            try await simulator.withRunningServer { port in
                let settings = Self.settings(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/auth"
                let received = try await Self.withDaemon(settings, key: "rotated-key") { daemon in
                    try Self.drop(Self.request("held", callback: hook), as: "held.json", into: daemon.spool.incoming)
                    // A second 401 is the probe after a pause, so the daemon has paused by now.
                    _ = try await simulator.api.subscribe().collect(2) { $0 == .answered(endpoint: .submit, statusCode: 401) }
                    #expect(daemon.pipeline.status.submissionsPaused?.contains("401") == true)
                    #expect(daemon.pipeline.status.failed == 0)
                    // The account owner rotates the key upstream to the one the daemon has.
                    simulator.api.updateConfiguration { $0.apiKey = "rotated-key" }
                    return try await simulator.receiver.subscribe().collect(1)
                }
                #expect(received.first?.json?["type"] == .string("video.generation.completed"))
            }
        }
    }
}
