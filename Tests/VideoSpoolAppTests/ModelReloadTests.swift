import Foundation
import Logging
import Testing
import VideoSpoolCore
import VideoSpoolSimulator

/// Operator model definitions under the running binary: a file added to models.d and the daemon
/// reloaded (SIGHUP) makes its model usable, a broken file on reload keeps the running set and
/// says why, and a removed file makes the model unknown again.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ModelReloadTests {
    /// The next line of the daemon's output that contains `text`.
    static func line(containing text: String, in lines: inout AsyncStream<String>.Iterator) async -> String? {
        while let line = await lines.next() {
            if line.contains(text) { return line }
        }
        return nil
    }

    @Test func aDefinitionAddedBrokenAndRemovedUnderARunningDaemonAppliesOnReload() async throws {
        try await withTemporaryDirectory { root in
            // Upstream serves far more models than the daemon knows: the simulator takes any.
            let simulator = Simulator(
                configuration: SimulatorConfiguration(
                    apiKey: "e2e-key",
                    queuedTime: .milliseconds(20),
                    generationTime: .fixed(.milliseconds(100)),
                    acceptsUnlistedModels: true,
                    // Served on loopback, so the daemon stores real videos (results.download is on).
                    videoBaseURL: nil,
                    webhookSecret: EndToEndTests.secret
                ),
                logger: Logger(label: "simulator", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            try await simulator.withRunningServer { port in
                let models = root + "/models.d"
                try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
                let config = try EndToEndTests.configure(root: root, port: port, extra: "models:\n  directory: \(models)\n")
                let hook = "http://127.0.0.1:\(port)/webhooks/models"
                let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                var lines = daemon.lines.makeAsyncIterator()
                var webhooks = simulator.receiver.subscribe().makeAsyncIterator()
                func outcome(_ tag: String) async throws -> (type: String?, code: String?) {
                    try EndToEndTests.drop(OperatorModel.request(tag: tag, hook: hook), as: tag + ".json", root: root)
                    let webhook = await webhooks.next()
                    #expect(webhook?.json?["data"]?["job_id"] == .string(tag))
                    return (webhook?.json?["type"]?.stringValue, webhook?.json?["data"]?["errors"]?[0]?["code"]?.stringValue)
                }

                // Not defined yet: rejected as an unknown model.
                let before = try await outcome("before")
                #expect(before.type == "video.generation.rejected")
                #expect(before.code == "unsupported_model")

                // Defined and reloaded: validated by its definition and submitted.
                try write(OperatorModel.definition, to: models + "/" + OperatorModel.fileName)
                daemon.signal(SIGHUP)
                let reloaded = await Self.line(containing: "Configuration reloaded", in: &lines)
                #expect(reloaded?.contains("5 built-in, 1 from files") == true, "\(reloaded ?? "no line")")
                #expect(try await outcome("added").type == "video.generation.completed")
                let sent = try #require(simulator.api.generations.first { $0.prompt == "clip added" })
                #expect(sent.body["duration"] == .int(10), "normalized by the definition: \"10\" is sent as 10")

                // A broken file: the reload fails, says which file and why, and the model stays usable.
                let broken = models + "/broken.json"
                try write(#"{"model": "acme/broken", "properties": {"duration": {"type": "integr"}}}"#, to: broken)
                daemon.signal(SIGHUP)
                let failed = await Self.line(containing: "Configuration reload failed", in: &lines)
                #expect(failed?.contains(broken) == true, "\(failed ?? "no line")")
                #expect(failed?.contains("properties.duration.type: must be one of") == true, "\(failed ?? "no line")")
                #expect(try await outcome("kept").type == "video.generation.completed")

                // Removed (and the broken file with it): unknown again after the next reload.
                try FileManager.default.removeItem(atPath: broken)
                try FileManager.default.removeItem(atPath: models + "/" + OperatorModel.fileName)
                daemon.signal(SIGHUP)
                let emptied = await Self.line(containing: "Configuration reloaded", in: &lines)
                #expect(emptied?.contains("5 built-in, 0 from files") == true, "\(emptied ?? "no line")")
                let after = try await outcome("after")
                #expect(after.type == "video.generation.rejected")
                #expect(after.code == "unsupported_model")

                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0, "log:\n\(daemon.log)")
                #expect(simulator.api.statistics.acceptedSubmissions == 2)
            }
        }
    }

    @Test func allowUnlistedLetsUnknownModelsThroughTheDaemonAndOffRejectsThem() async throws {
        try await withTemporaryDirectory { root in
            let simulator = Simulator(
                configuration: SimulatorConfiguration(
                    apiKey: "e2e-key",
                    queuedTime: .milliseconds(20),
                    generationTime: .fixed(.milliseconds(100)),
                    acceptsUnlistedModels: true,
                    // Served on loopback, so the daemon stores real videos (results.download is on).
                    videoBaseURL: nil,
                    webhookSecret: EndToEndTests.secret
                ),
                logger: Logger(label: "simulator", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port, extra: "models:\n  allow_unlisted: true\n")
                let hook = "http://127.0.0.1:\(port)/webhooks/unlisted"
                let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                var webhooks = simulator.receiver.subscribe().makeAsyncIterator()
                let request = #"{"model": "openai/sora-2-t2v", "duration": "4", "job_id": "sora", "callback_url": "\#(hook)"}"#
                try EndToEndTests.drop(request, as: "sora.json", root: root)
                let webhook = await webhooks.next()
                #expect(webhook?.json?["type"] == .string("video.generation.completed"), "\(String(describing: webhook?.json))")
                let sent = try #require(simulator.api.generations.first { $0.body["model"] == .string("openai/sora-2-t2v") })
                #expect(sent.body["duration"] == .string("4"), "an unlisted model's body is sent as written")

                // Off again (on reload): the same model is rejected.
                try write(try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "allow_unlisted: true", with: "allow_unlisted: false"), to: config)
                var lines = daemon.lines.makeAsyncIterator()
                daemon.signal(SIGHUP)
                _ = await Self.line(containing: "Configuration reloaded", in: &lines)
                try EndToEndTests.drop(request.replacingOccurrences(of: "\"sora\"", with: "\"sora-2\""), as: "sora-2.json", root: root)
                let rejected = await webhooks.next()
                #expect(rejected?.json?["type"] == .string("video.generation.rejected"))
                #expect(rejected?.json?["data"]?["errors"]?[0]?["code"] == .string("unsupported_model"))
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0)
            }
        }
    }
}
