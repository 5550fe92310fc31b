import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolSimulator
import VideoSpoolTesting

/// The built binary stores each video before it announces the job, against the simulator on
/// loopback serving real MP4s: the webhook's SHA-256 is the stored file's, checked by `sha256sum`.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct StoredVideoTests {
    /// `sha256sum` of a file: an implementation not written here.
    static func sha256sum(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sha256sum", path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return String(text.split(separator: " ").first ?? "")
    }

    static func fileSize(_ path: String) throws -> Int64 {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? -1
    }

    @Test func theWebhookCarriesTheStoredFileAndItsChecksum() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/stored"
                let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                try EndToEndTests.drop(EndToEndTests.request(tag: "kept", hook: hook), as: "kept.json", root: root)
                let received = try await simulator.receiver.subscribe().collect(1)
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0, "log:\n\(daemon.log)")

                let video = try #require(received.first?.json?["data"]?["video"])
                let file = root + "/state/videos/kept.mp4"
                #expect(video["file"] == .string(file))
                #expect(video["content_type"] == .string("video/mp4"))
                #expect(video["url"]?.stringValue?.hasPrefix("http://127.0.0.1:\(port)/_videos/") == true)
                let sha = try #require(video["sha256"]?.stringValue)
                #expect(sha == (try Self.sha256sum(file)), "the webhook's SHA-256 is the stored bytes'")
                #expect(video["bytes"] == .int(try Self.fileSize(file)))
                // The bytes are the simulator's video for that generation.
                let generation = try #require(received.first?.json?["data"]?["generation_id"]?.stringValue)
                let served = SimulatedVideo(generationID: generation).bytes
                #expect(Array(try Data(contentsOf: URL(fileURLWithPath: file))) == served)
                #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/state/videos") == ["kept.mp4"])
                #expect(received.first?.signatureValid == true)

                // The journal line, with the job, the size and the checksum.
                #expect(daemon.log.contains("Video stored"))
                let stored = daemon.log.split(separator: "\n").first { $0.contains("Video stored") }.map(String.init) ?? ""
                #expect(stored.contains("kept") && stored.contains(sha) && stored.contains("\(served.count)"), "\(stored)")

                // `videospool show` lists the stored result.
                let (status, shown) = try await DaemonProcess.run(["show", "kept", "--config", config], in: root)
                #expect(status == 0, "\(shown)")
                #expect(shown.contains(file) && shown.contains(sha), "\(shown)")
                let (jsonStatus, json) = try await DaemonProcess.run(["show", "kept", "--json", "--config", config], in: root)
                #expect(jsonStatus == 0)
                let document = try JSONParser().parse(json.trimmingCharacters(in: .whitespacesAndNewlines))
                #expect(document["stored_video"]?["sha256"] == .string(sha))
                #expect(document["stored_video"]?["file"] == .string(file))

                // `videospool fetch` copies the stored video out...
                let copy = root + "/out/copy.mp4"
                try FileManager.default.createDirectory(atPath: root + "/out", withIntermediateDirectories: true)
                let fetched = try await DaemonProcess.run(["fetch", "kept", "-o", copy, "--config", config], in: root)
                #expect(fetched.status == 0, "\(fetched.output)")
                #expect(fetched.output.contains("copied from the stored video"), "\(fetched.output)")
                #expect(try Self.sha256sum(copy) == sha)
                // ...refuses a stored copy that no longer matches its checksum, writing nothing...
                var damaged = try Data(contentsOf: URL(fileURLWithPath: file))
                damaged[damaged.count - 1] ^= 0xFF
                try damaged.write(to: URL(fileURLWithPath: file))
                let refused = try await DaemonProcess.run(["fetch", "kept", "-o", root + "/out/bad.mp4", "--config", config], in: root)
                #expect(refused.status != 0 && refused.output.contains("does not match"), "\(refused.output)")
                #expect(!FileManager.default.fileExists(atPath: root + "/out/bad.mp4"))
                // ...and without a stored copy downloads it again while the link works.
                try FileManager.default.removeItem(atPath: file)
                let again = try await DaemonProcess.run(
                    ["fetch", "kept", "-o", root + "/out/again.mp4", "--json", "--config", config],
                    in: root
                )
                #expect(again.status == 0, "\(again.output)")
                let answer = try JSONParser().parse(again.output.trimmingCharacters(in: .whitespacesAndNewlines))
                #expect(answer["source"] == .string("downloaded"))
                #expect(answer["sha256"] == .string(sha))
                #expect(try Self.sha256sum(root + "/out/again.mp4") == sha)
                #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/out").sorted() == ["again.mp4", "copy.mp4"])
            }
        }
    }

    @Test func anExpiredLinkIsAnnouncedWithTheUpstreamURLAndTheError() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            simulator.api.setFaults([FaultRule(endpoint: .video, fault: .status(403), remaining: nil)])
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/expired"
                let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                try EndToEndTests.drop(EndToEndTests.request(tag: "gone", hook: hook), as: "gone.json", root: root)
                let received = try await simulator.receiver.subscribe().collect(1)
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0, "log:\n\(daemon.log)")

                let data = try #require(received.first?.json?["data"])
                #expect(received.first?.json?["type"] == .string("video.generation.completed"))
                #expect(data["video"]?["url"]?.stringValue?.contains("/_videos/") == true)
                #expect(data["video"]?["download_error"]?.stringValue?.contains("403") == true)
                #expect(data["video"]?["file"] == nil)
                #expect(daemon.log.contains("Video not stored"))
                #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/state/videos").isEmpty)
            }
        }
    }

    @Test func aVideoLargerThanMaxBytesIsNotStored() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            simulator.api.setFaults([FaultRule(endpoint: .video, fault: .videoSize(1024 * 1024), remaining: nil)])
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port, extra: "results:\n  max_bytes: 65536")
                let hook = "http://127.0.0.1:\(port)/webhooks/large"
                let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                try EndToEndTests.drop(EndToEndTests.request(tag: "large", hook: hook), as: "large.json", root: root)
                let received = try await simulator.receiver.subscribe().collect(1)
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0, "log:\n\(daemon.log)")
                let video = try #require(received.first?.json?["data"]?["video"])
                #expect(video["file"] == nil)
                #expect(video["download_error"] != nil, "\(video)")
                #expect(daemon.log.contains("too_large"))
                #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/state/videos").isEmpty)
            }
        }
    }

    /// SIGKILL while a video trickles in: the next start downloads it again (resuming its part
    /// file), stores the same bytes and announces the job once.
    @Test func killedMidDownloadTheVideoIsStoredAndAnnouncedOnce() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            simulator.api.setFaults([
                FaultRule(endpoint: .video, fault: .videoSize(4 * 1024 * 1024), remaining: nil),
                FaultRule(endpoint: .video, fault: .slowDrip(bytesPerSecond: 256 * 1024), remaining: 1),
            ])
            try await simulator.withRunningServer { port in
                let config = try EndToEndTests.configure(root: root, port: port)
                let hook = "http://127.0.0.1:\(port)/webhooks/killed"
                let webhooks = simulator.receiver.subscribe()
                let first = try EndToEndTests.start(config: config, root: root, run: 1)
                try EndToEndTests.drop(EndToEndTests.request(tag: "killed", hook: hook), as: "killed.json", root: root)
                let part = root + "/state/videos/.killed.part"
                try await eventually("part of the video written") { (try? Self.fileSize(part)) ?? 0 > 0 }
                first.signal(SIGKILL)
                _ = await first.waitForExit()
                #expect(!FileManager.default.fileExists(atPath: root + "/state/videos/killed.mp4"))

                // `list --state storing` shows the job while the daemon is down.
                let (listStatus, listed) = try await DaemonProcess.run(
                    ["list", "--state", "storing", "--config", config],
                    in: root
                )
                #expect(listStatus == 0 && listed.contains("killed"), "\(listed)")

                let second = try EndToEndTests.start(config: config, root: root, run: 2)
                let received = try await webhooks.collect(1)
                // Anything sent twice would be in by the time the daemon has stopped and flushed.
                second.signal(SIGTERM)
                #expect(await second.waitForExit() == 0, "log:\n\(second.log)")

                let video = try #require(received.first?.json?["data"]?["video"])
                let file = root + "/state/videos/killed.mp4"
                #expect(video["sha256"] == .string(try Self.sha256sum(file)))
                #expect(video["bytes"] == .int(4 * 1024 * 1024))
                let generation = try #require(received.first?.json?["data"]?["generation_id"]?.stringValue)
                #expect(
                    Array(try Data(contentsOf: URL(fileURLWithPath: file)))
                        == SimulatedVideo(generationID: generation, size: 4 * 1024 * 1024).bytes
                )
                #expect(!FileManager.default.fileExists(atPath: part))
                // The second start resumed the part file the first one left.
                let requests = simulator.api.videoRequests.filter { $0.generationID == generation }
                #expect(requests.count == 2 && requests.first?.range == nil, "\(requests)")
                #expect(requests.last?.range?.hasPrefix("bytes=") == true && requests.last?.range != "bytes=0-", "\(requests)")
                let announced = simulator.receiver.received.filter { $0.json?["data"]?["job_id"] == .string("killed") }
                #expect(announced.count == 1, "announced once")
                #expect(simulator.api.statistics.acceptedSubmissions == 1, "submitted once")
            }
        }
    }
}
