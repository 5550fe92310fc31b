import Foundation
import Logging
import Testing
import VideoSpoolCore
import VideoSpoolSimulator
import VideoSpoolStore
import VideoSpoolTesting

/// The built `videospool` binary, run as operators run it: a config file, key and secret files,
/// a spool directory, against the simulator on loopback.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct EndToEndTests {
    static let secret = try! WebhookSecret(parsing: testSecretText)

    static func simulator(generation: Duration, key: String = "e2e-key") -> Simulator {
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

    /// Writes key, secret and config files under `root`; returns the config path.
    static func configure(
        root: String,
        port: Int,
        extra: String = "",
        key: String = "e2e-key",
        state stateKeys: String = ""
    ) throws -> String {
        try write(key + "\n", to: root + "/api-key")
        try write(testSecretText + "\n", to: root + "/webhook-secret")
        let path = root + "/videospool.yaml"
        try write(
            """
            spool:
              directory: \(root)/spool
              settle_seconds: 0.2
            state:
              directory: \(root)/state
            \(stateKeys)api:
              base_url: http://127.0.0.1:\(port)
              key_file: \(root)/api-key
              poll:
                first_delay_seconds: 0.05
                interval_seconds: 0.05
            webhooks:
              secret_file: \(root)/webhook-secret
              allow_private_networks: true
              retry_schedule_seconds: [0.05, 0.1, 0.2, 0.4, 0.8]
            log:
              level: debug
            \(extra)
            """,
            to: path
        )
        return path
    }

    static func request(tag: String, hook: String) -> String {
        """
        {"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "clip \(tag)", "duration": "5",
         "resolution": "480p", "job_id": "\(tag)", "callback_url": "\(hook)"}
        """
    }

    static func drop(_ text: String, as name: String, root: String) throws {
        let incoming = root + "/spool/incoming"
        try FileManager.default.createDirectory(atPath: incoming, withIntermediateDirectories: true)
        try write(text, to: incoming + "/." + name + ".tmp")
        try FileManager.default.moveItem(atPath: incoming + "/." + name + ".tmp", toPath: incoming + "/" + name)
    }

    static func start(config: String, root: String, run: Int) throws -> DaemonProcess {
        try DaemonProcess(arguments: ["run", "--config", config], logPath: root + "/daemon-\(run).log")
    }

    // MARK: -

    @Test(arguments: StoreUnderTest.allCases)
    func theBinaryTurnsFilesIntoVerifiedWebhooksAndOutcomeFiles(store backend: StoreUnderTest) async throws {
        let stateKeys = try await backend.stateKeys()
        try await withTemporaryDirectory { root in
            let simulator = Self.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try Self.configure(root: root, port: port, state: stateKeys)
                let hook = "http://127.0.0.1:\(port)/webhooks/e2e"
                let daemon = try Self.start(config: config, root: root, run: 1)
                try Self.drop(Self.request(tag: "e2e-ok", hook: hook), as: "ok.json", root: root)
                try Self.drop(#"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": 7, "callback_url": "\#(hook)"}"#, as: "bad.json", root: root)
                let received = try await simulator.receiver.subscribe().collect(2)
                daemon.signal(SIGTERM)
                let status = await daemon.waitForExit()
                #expect(status == 0, "clean exit on SIGTERM; log:\n\(daemon.log)")

                #expect(received.allSatisfy { $0.signatureValid == true })
                let completed = try #require(received.first { $0.json?["type"] == .string("video.generation.completed") })
                #expect(completed.json?["data"]?["job_id"] == .string("e2e-ok"))
                #expect(received.contains { $0.json?["type"] == .string("video.generation.rejected") })
                #expect(FileManager.default.fileExists(atPath: root + "/spool/done/e2e-ok.json"))
                #expect(FileManager.default.fileExists(atPath: root + "/spool/rejected/bad.json.error.json"))
                #expect(daemon.log.contains("Request rejected"))
                #expect(!daemon.log.contains("e2e-key"), "the API key never reaches the log")
                #expect(!daemon.log.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "nor does the webhook secret")

                // An implementation not written here agrees with the signatures.
                for item in received { try Self.verifyWithStandardWebhooks(item, directory: root) }
            }
        }
    }

    /// Verifies one received webhook with the `standardwebhooks` package from PyPI (installed by
    /// `make deps`); fails if it is missing rather than skipping.
    static func verifyWithStandardWebhooks(_ item: WebhookReceiver.Received, directory: String) throws {
        let pythonPath = ProcessInfo.processInfo.environment["VIDEOSPOOL_PYTHONPATH"] ?? packageRoot + "/.cache/python"
        let bodyPath = directory + "/body-\(UUID().uuidString).json"
        try Data(item.body).write(to: URL(fileURLWithPath: bodyPath))
        let script = """
            import json, sys
            from standardwebhooks import Webhook
            body = open(sys.argv[1], 'rb').read()
            headers = {"webhook-id": sys.argv[2], "webhook-timestamp": sys.argv[3], "webhook-signature": sys.argv[4]}
            payload = Webhook(sys.argv[5]).verify(body, headers)
            print("verified", payload["type"])
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c", script, bodyPath, item.webhookID ?? "", item.timestamp ?? "", item.signature ?? "",
            testSecretText,
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = pythonPath
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "standardwebhooks rejected the signature (run `make deps`?): \(text)")
        #expect(text.contains("verified video.generation."))
    }

    /// One job of each built-in Seedance model, each with a value only that model allows, through
    /// the binary to the simulator: each is submitted with its own model and completes.
    @Test func oneJobOfEachSeedanceModelCompletes() async throws {
        try await withTemporaryDirectory { root in
            let simulator = Self.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try Self.configure(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/family"
                let requests: [(model: String, members: String)] = [
                    ("bytedance/dreamina-seedance-2-0-mini", #""provider": "FAL", "resolution": "480p""#),
                    ("bytedance/seedance-2-0", #""resolution": "4k", "duration": "12""#),
                    ("bytedance/seedance-2-0-fast", #""duration": 8, "image_urls": ["https://example.com/a.png"], "audio_urls": ["https://example.com/a.mp3"]"#),
                    ("bytedance/seedance-2-5", #""duration": "30", "watermark": true"#),
                    ("bytedance/dreamina-seedance-2-5", #""duration": 25, "provider": "bytedance""#),
                ]
                let daemon = try Self.start(config: config, root: root, run: 1)
                for (index, request) in requests.enumerated() {
                    let text = #"{"model": "\#(request.model)", "prompt": "family \#(index)", "job_id": "family-\#(index)", "callback_url": "\#(hook)", \#(request.members)}"#
                    try Self.drop(text, as: "family-\(index).json", root: root)
                }
                let received = try await simulator.receiver.subscribe().collect(requests.count)
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0, "log:\n\(daemon.log)")

                for (index, request) in requests.enumerated() {
                    let webhook = received.first { $0.json?["data"]?["job_id"] == .string("family-\(index)") }
                    #expect(webhook?.json?["type"] == .string("video.generation.completed"), "\(request.model): \(String(describing: webhook?.json))")
                    #expect(webhook?.json?["data"]?["model"] == .string(request.model))
                    let body = try #require(simulator.api.generations.first { $0.prompt == "family \(index)" }?.body, "\(request.model)")
                    #expect(body["model"] == .string(request.model))
                    #expect(body["duration"].map { $0.numberValue != nil } ?? true, "duration is sent as an integer")
                    #expect(body["callback_url"] == nil && body["job_id"] == nil)
                }
                #expect(simulator.api.statistics.rejectedBodies == 0)
            }
        }
    }

    @Test func killingTheDaemonMidRunLosesNoJobAndSubmitsNoneTwice() async throws {
        try await withTemporaryDirectory { root in
            let simulator = Self.simulator(generation: .milliseconds(600))
            try await simulator.withRunningServer { port in
                let config = try Self.configure(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/crash"
                let count = 30
                let api = simulator.api.subscribe()
                var run = 1
                var daemon = try Self.start(config: config, root: root, run: run)
                for index in 0..<count {
                    try Self.drop(Self.request(tag: "crash-\(index)", hook: hook), as: "\(index).json", root: root)
                }
                // Kill 1: while submissions are under way.
                _ = try await api.collect(count / 3) { if case .accepted = $0 { return true } else { return false } }
                daemon.signal(SIGKILL)
                _ = await daemon.waitForExit()
                run += 1
                daemon = try Self.start(config: config, root: root, run: run)
                // Kill 2: once polls and deliveries are happening.
                _ = try await simulator.receiver.subscribe().collect(3)
                daemon.signal(SIGKILL)
                _ = await daemon.waitForExit()
                run += 1
                daemon = try Self.start(config: config, root: root, run: run)
                // Kill 3: right after a start, during recovery.
                _ = try await simulator.api.subscribe().collect(1) { if case .polled = $0 { return true } else { return false } }
                daemon.signal(SIGKILL)
                _ = await daemon.waitForExit()
                run += 1
                daemon = try Self.start(config: config, root: root, run: run)

                // Every job reaches exactly one terminal event (possibly delivered more than once).
                let received = simulator.receiver.subscribe()
                let terminal = try await withTimeout(.seconds(120), waitingFor: "a terminal event for each of \(count) jobs") {
                    var terminal: [String: (type: String, webhookID: String)] = [:]
                    for await item in received {
                        guard let id = item.json?["data"]?["job_id"]?.stringValue, let type = item.json?["type"]?.stringValue,
                            let webhookID = item.webhookID
                        else { continue }
                        if let earlier = terminal[id] {
                            #expect(earlier.webhookID == webhookID, "a job's event keeps its webhook-id across retries")
                            #expect(earlier.type == type)
                        }
                        terminal[id] = (type, webhookID)
                        if terminal.count == count { break }
                    }
                    return terminal
                }
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0)

                // No job was submitted twice: one accepted POST per prompt.
                var posts: [String: Int] = [:]
                for generation in simulator.api.generations { posts[generation.prompt, default: 0] += 1 }
                #expect(posts.values.allSatisfy { $0 == 1 }, "duplicate submissions: \(posts.filter { $0.value > 1 })")
                // Jobs the kills caught mid-POST fail as 'submission_outcome_unknown' (the documented policy).
                let unsure = terminal.filter { $0.value.type == "video.generation.failed" }.keys.sorted()
                let spool = root + "/spool"
                for index in 0..<count {
                    let id = "crash-\(index)"
                    let outcome = FileManager.default.fileExists(atPath: "\(spool)/done/\(id).json")
                        || FileManager.default.fileExists(atPath: "\(spool)/failed/\(id).json")
                    #expect(outcome, "\(id) has an outcome file")
                }
                #expect(try FileManager.default.contentsOfDirectory(atPath: spool + "/incoming").filter { !$0.hasPrefix(".") }.isEmpty)
                let store = try SQLiteJobStore(directory: root + "/state", readOnly: true)
                #expect(try await store.integrityProblems().isEmpty)
                let failedPolls = unsure.count
                print("crash test: \(count) jobs, 3 SIGKILLs, \(simulator.api.generations.count) POSTs accepted, \(failedPolls) failed as submission_outcome_unknown")
            }
        }
    }

    @Test func aBadConfigurationStopsStartUpWithStatus78NamingTheKey() async throws {
        try await withTemporaryDirectory { root in
            let config = try Self.configure(root: root, port: 9, extra: "")
            let broken = try String(contentsOfFile: config, encoding: .utf8)
                .replacingOccurrences(of: "interval_seconds: 0.05", with: "interval_secnds: 0.05")
            try write(broken, to: config)
            for command in ["run", "check-config"] {
                let (status, output) = try await DaemonProcess.run([command, "--config", config], in: root)
                #expect(status == 78, "\(command): \(output)")
                #expect(output.contains("api.poll.interval_secnds"))
                #expect(output.contains("did you mean 'api.poll.interval_seconds'?"))
            }
        }
    }

    @Test func aMissingAPIKeyStopsStartUpWithStatus78() async throws {
        try await withTemporaryDirectory { root in
            let config = try Self.configure(root: root, port: 9)
            try FileManager.default.removeItem(atPath: root + "/api-key")
            let (status, output) = try await DaemonProcess.run(["run", "--config", config], in: root)
            #expect(status == 78)
            #expect(output.contains("api.key_file"))
        }
    }

    @Test func checkConfigAcceptsAGoodConfigurationWithoutPrintingSecrets() async throws {
        try await withTemporaryDirectory { root in
            let config = try Self.configure(root: root, port: 9)
            let (status, output) = try await DaemonProcess.run(["check-config", "--config", config], in: root)
            #expect(status == 0, "\(output)")
            #expect(output.contains("configuration OK"))
            #expect(!output.contains("e2e-key") && !output.contains("MfKQ9r8"))
            #expect(!FileManager.default.fileExists(atPath: root + "/spool"), "check-config changes nothing")
        }
    }
}
