import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolSimulator
import VideoSpoolTesting

/// `videospool list|show|cancel|retry|redeliver|prune`, run as operators run them: the built binary
/// next to a running daemon (over its control socket) and against the store of a stopped one.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct OperatorCommandTests {
    /// Runs a CLI command to its end; its output is read to EOF before the status is taken, so none
    /// of it can be missed however large it is.
    static func cli(_ arguments: [String], config: String, root: String) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
        process.arguments = arguments + ["--config", config]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func json(_ output: String) throws -> JSONValue {
        try JSONParser().parse(output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func request(_ tag: String, prompt: String, hook: String) -> String {
        """
        {"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "\(prompt)", "duration": "5",
         "resolution": "480p", "job_id": "\(tag)", "callback_url": "\(hook)"}
        """
    }

    static func type(_ item: WebhookReceiver.Received) -> String? { item.json?["type"]?.stringValue }
    static func jobID(_ item: WebhookReceiver.Received) -> String? { item.json?["data"]?["job_id"]?.stringValue }

    @Test func operatorCommandsWorkWithTheDaemonRunningAndStopped() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/ops"
                var daemon = try EndToEndTests.start(config: config, root: root, run: 1)

                // A job whose first submission is refused (422): it fails, and is retried later.
                simulator.api.setFaults([FaultRule(endpoint: .submit, fault: .status(422), remaining: 1)])
                var hooks = simulator.receiver.subscribe()
                try EndToEndTests.drop(Self.request("flaky", prompt: "clip flaky", hook: hook), as: "flaky.json", root: root)
                _ = try await hooks.collect(1) { Self.jobID($0) == "flaky" }

                hooks = simulator.receiver.subscribe()
                let api = simulator.api.subscribe()
                try EndToEndTests.drop(Self.request("ok", prompt: "clip ok", hook: hook), as: "ok.json", root: root)
                try EndToEndTests.drop(Self.request("slow", prompt: "clip [sim:never]", hook: hook), as: "slow.json", root: root)
                try EndToEndTests.drop(Self.request("active", prompt: "clip [sim:never] 2", hook: hook), as: "active.json", root: root)
                let failing = "http://127.0.0.1:\(port)/webhooks/status/500"
                try EndToEndTests.drop(Self.request("unheard", prompt: "clip unheard", hook: failing), as: "unheard.json", root: root)
                let okHook = try #require(try await hooks.collect(1) { Self.jobID($0) == "ok" }.first)
                _ = try await api.collect(2) { event in
                    if case .accepted(_, let prompt) = event { return prompt.contains("[sim:never]") }
                    return false
                }
                // 1 + 5 retries of the 500 receiver, then the delivery is given up.
                try await daemon.line { $0.contains("Webhook delivery given up") && $0.contains("unheard") }

                // list and show while the daemon runs.
                let listed = try await Self.cli(["list", "--json"], config: config, root: root)
                #expect(listed.status == 0, "\(listed.output)")
                let states = Dictionary(
                    uniqueKeysWithValues: (try Self.json(listed.output).arrayValue ?? []).compactMap { job in
                        job["job_id"]?.stringValue.map { ($0, job["state"]?.stringValue ?? "") }
                    }
                )
                #expect(states == ["flaky": "failed", "ok": "done", "slow": "generating", "active": "generating", "unheard": "done"])
                let failedOnly = try await Self.cli(["list", "--state", "failed"], config: config, root: root)
                #expect(failedOnly.output.contains("flaky") && !failedOnly.output.contains("slow"))
                #expect(!failedOnly.output.contains("\u{1B}["), "no colour when stdout is not a tty")

                let shown = try await Self.cli(["show", "ok", "--json"], config: config, root: root)
                let report = try Self.json(shown.output)
                #expect(report["generation_id"]?.stringValue?.isEmpty == false)
                let phases = (report["timeline"]?.arrayValue ?? []).compactMap { $0["to"]?.stringValue }
                #expect(phases == ["queued", "submitting", "generating", "storing", "completed"])
                #expect(report["stored_video"]?["file"]?.stringValue == root + "/state/videos/ok.mp4")
                let attempt = try #require(report["deliveries"]?.arrayValue?.first?["attempt_log"]?.arrayValue?.first)
                #expect((attempt["status"]?.numberValue?.doubleValue).map { (200..<300).contains(Int($0)) } == true)
                #expect(attempt["latency_ms"]?.numberValue != nil)
                let unheard = try Self.json(try await Self.cli(["show", "unheard", "--json"], config: config, root: root).output)
                #expect(unheard["deliveries"]?.arrayValue?.first?["attempt_log"]?.arrayValue?.count == 6)
                let text = try await Self.cli(["show", "unheard"], config: config, root: root)
                #expect(text.output.contains("Timeline") && text.output.contains("ms") && text.output.contains("500"))

                // cancel a generating job: the canceled webhook goes out, polling stops.
                hooks = simulator.receiver.subscribe()
                let canceled = try await Self.cli(["cancel", "slow"], config: config, root: root)
                #expect(canceled.status == 0, "\(canceled.output)")
                #expect(canceled.output.contains("no cancel") && canceled.output.contains("running daemon"))
                let canceledHook = try #require(try await hooks.collect(1) { Self.jobID($0) == "slow" }.first)
                #expect(Self.type(canceledHook) == "video.generation.canceled")
                let again = try await Self.cli(["cancel", "slow"], config: config, root: root)
                #expect(again.status != 0 && again.output.contains("already ended"))

                // redeliver: the same webhook-id again.
                hooks = simulator.receiver.subscribe()
                let redelivered = try await Self.cli(["redeliver", "ok"], config: config, root: root)
                #expect(redelivered.status == 0, "\(redelivered.output)")
                let replay = try #require(try await hooks.collect(1) { Self.jobID($0) == "ok" }.first)
                #expect(replay.webhookID == okHook.webhookID)
                #expect(replay.signatureValid == true)

                // redeliver --failed-since: the given-up delivery is tried again.
                hooks = simulator.receiver.subscribe()
                let failedSince = try await Self.cli(["redeliver", "--failed-since", "1h", "--json"], config: config, root: root)
                #expect(try Self.json(failedSince.output)["deliveries"] == .int(1), "\(failedSince.output)")
                _ = try await hooks.collect(1) { Self.jobID($0) == "unheard" }

                // retry the failed job: a new submission, and it completes.
                hooks = simulator.receiver.subscribe()
                let retried = try await Self.cli(["retry", "flaky"], config: config, root: root)
                #expect(retried.status == 0, "\(retried.output)")
                let completed = try await hooks.collect(1) {
                    Self.jobID($0) == "flaky" && Self.type($0) == "video.generation.completed"
                }
                #expect(!completed.isEmpty)
                #expect(!FileManager.default.fileExists(atPath: root + "/spool/failed/flaky.json"))
                let okRetry = try await Self.cli(["retry", "ok"], config: config, root: root)
                #expect(okRetry.status != 0 && okRetry.output.contains("only failed"))

                // With the daemon stopped, commands act on the store.
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0, "\(daemon.log)")
                #expect(FileManager.default.fileExists(atPath: root + "/spool/failed/slow.json"), "canceled jobs file under failed/")
                let offlineList = try await Self.cli(["list", "--json"], config: config, root: root)
                #expect((try Self.json(offlineList.output).arrayValue ?? []).count == 5)
                let offline = try await Self.cli(["redeliver", "ok"], config: config, root: root)
                #expect(offline.status == 0 && offline.output.contains("not running"), "\(offline.output)")
                hooks = simulator.receiver.subscribe()
                daemon = try EndToEndTests.start(config: config, root: root, run: 2)
                let afterRestart = try #require(try await hooks.collect(1) { Self.jobID($0) == "ok" }.first)
                #expect(afterRestart.webhookID == okHook.webhookID)
                // The attempt is recorded just after the receiver answers.
                try await daemon.line { $0.contains("Webhook delivered") && $0.contains("job.id=ok") }
                daemon.signal(SIGTERM)
                _ = await daemon.waitForExit()

                // prune: nothing is that old yet; then what is finished goes, with its file, and the
                // generating job stays.
                let none = try await Self.cli(["prune", "--older-than", "1d", "--json"], config: config, root: root)
                #expect(try Self.json(none.output)["jobs"] == .array([]), "\(none.output)")
                let pruned = try await Self.cli(["prune", "--older-than", "0s"], config: config, root: root)
                #expect(pruned.status == 0, "\(pruned.output)")
                #expect(!FileManager.default.fileExists(atPath: root + "/spool/done/ok.json"), "\(pruned.output)")
                let left = try await Self.cli(["list", "--json"], config: config, root: root)
                let ids = (try Self.json(left.output).arrayValue ?? []).compactMap { $0["job_id"]?.stringValue }
                #expect(ids.contains("active"))
                #expect(!ids.contains("ok") && !ids.contains("flaky") && !ids.contains("slow"), "\(left.output)")
            }
        }
    }

    @Test func helpDescribesEveryOperatorCommand() async throws {
        try await withTemporaryDirectory { root in
            let top = try await DaemonProcess.run(["--help"], in: root)
            for command in ["list", "show", "cancel", "retry", "redeliver", "prune"] {
                #expect(top.output.contains(command))
                let help = try await DaemonProcess.run([command, "--help"], in: root)
                #expect(help.status == 0)
                #expect(help.output.contains("--json") && help.output.contains("--config"))
            }
            let redeliver = try await DaemonProcess.run(["redeliver", "--help"], in: root)
            #expect(redeliver.output.contains("--failed-since") && redeliver.output.contains("webhook-id"))
        }
    }
}
