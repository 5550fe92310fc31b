import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolSimulator

/// `videospool submit --wait` against the real daemon and the simulator on loopback: the exit
/// status says how each job ended.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SubmitWaitTests {
    static let model = "bytedance/dreamina-seedance-2-0-mini"

    @Test func theExitStatusSaysWhetherTheJobCompletedFailedOrWasRejected() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                // The client's config is the daemon's but without the daemon's small size limit, so
                // one request passes locally and is still rejected by the daemon.
                let client = try EndToEndTests.configure(root: root, port: port)
                let daemonConfig = root + "/daemon.yaml"
                try write(
                    try String(contentsOfFile: client, encoding: .utf8)
                        .replacingOccurrences(of: "settle_seconds: 0.2", with: "settle_seconds: 0.2\n  max_request_bytes: 400"),
                    to: daemonConfig
                )
                // As systemd-tmpfiles does before the daemon starts: submit needs incoming/ to exist.
                try FileManager.default.createDirectory(atPath: root + "/spool/incoming", withIntermediateDirectories: true)
                let daemon = try EndToEndTests.start(config: daemonConfig, root: root, run: 1)

                try write(#"{"model": "\#(Self.model)", "prompt": "clip ok", "duration": "5"}"#, to: root + "/ok.json")
                let completed = try await ClientCommand.run(["submit", "--config", client, "--wait", root + "/ok.json"], in: root)
                #expect(completed.status == 0, "\(completed.stderr)\n\(daemon.log)")
                let lines = completed.stdout.split(separator: "\n")
                // The job id, the link, and the stored copy (results.download is on).
                #expect(lines.count == 3, "\(completed.stdout)")
                #expect(lines.dropFirst().first?.hasPrefix("completed: http://127.0.0.1:") == true, "\(completed.stdout)")
                #expect(lines.dropFirst().first?.contains(".mp4") == true, "\(completed.stdout)")
                let id = String(lines.first ?? "")
                #expect(lines.last?.hasPrefix("stored: \(root)/state/videos/\(id).mp4 (sha256 ") == true, "\(completed.stdout)")
                #expect(FileManager.default.fileExists(atPath: root + "/spool/done/\(id).json"))
                #expect(completed.stderr.contains("\(id): "), "plain progress lines when stderr is not a terminal")

                try write(#"{"model": "\#(Self.model)", "prompt": "[sim:error] clip", "job_id": "doomed"}"#, to: root + "/fail.json")
                let failed = try await ClientCommand.run(["submit", "--config", client, "--wait", root + "/fail.json"], in: root)
                #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
                #expect(failed.stdout.contains("failed: generation_failed"), "\(failed.stdout)")

                let padding = String(repeating: "x", count: 600)
                try write(#"{"model": "\#(Self.model)", "prompt": "\#(padding)"}"#, to: root + "/large.json")
                let rejected = try await ClientCommand.run(["submit", "--config", client, "--wait", root + "/large.json"], in: root)
                #expect(rejected.status == 65, "\(rejected.stdout)\(rejected.stderr)")
                #expect(rejected.stdout.contains("too_large"), "\(rejected.stdout)")

                try write(#"{"model": "\#(Self.model)", "prompt": "clip json", "job_id": "scripted"}"#, to: root + "/json.json")
                let json = try await ClientCommand.run(["submit", "--config", client, "--wait", "--json", root + "/json.json"], in: root)
                #expect(json.status == 0, "\(json.stderr)")
                #expect(json.stdoutJSON?["type"] == .string("video.generation.completed"), "\(json.stdout)")
                #expect(json.stdoutJSON?["data"]?["job_id"] == .string("scripted"))
                #expect(json.stdoutJSON?["data"]?["video"]?["url"]?.stringValue != nil)

                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0)
            }
        }
    }

    @Test func waitingGivesUpAfterTheTimeoutWithStatus75AndAnInvalidFileIsNeverWaitedFor() async throws {
        try await withTemporaryDirectory { root in
            let config = try SubmitCommandTests.configure(root: root)
            try write(#"{"model": "\#(Self.model)", "prompt": "nobody runs the daemon", "job_id": "lonely"}"#, to: root + "/r.json")
            let run = try await ClientCommand.run(
                ["submit", "--config", config, "--wait", "--timeout", "0.3", "--json", root + "/r.json"],
                in: root
            )
            #expect(run.status == 75, "\(run.stderr)")
            #expect(run.stdoutJSON?["timed_out"] == .bool(true), "\(run.stdout)")
            #expect(run.stdoutJSON?["job_id"] == .string("lonely"))
            #expect(run.stderr.contains("the job goes on"))
            #expect(try SubmitCommandTests.incoming(root) == ["lonely.json"], "the request stays for the daemon")

            try write(#"{"model": "\#(Self.model)"}"#, to: root + "/bad.json")
            let invalid = try await ClientCommand.run(["submit", "--config", config, "--wait", root + "/bad.json"], in: root)
            #expect(invalid.status == 65)

            let misuse = try await ClientCommand.run(["submit", "--config", config, "--timeout", "3", root + "/r.json"], in: root)
            #expect(misuse.status == 64, "--timeout without --wait is a usage error")
        }
    }
}
