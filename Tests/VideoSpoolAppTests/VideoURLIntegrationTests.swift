import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolSimulator
import VideoSpoolStore
import VideoSpoolTesting

/// A completed generation whose `video.url` is not a web link, against the real daemon: the job
/// fails with `invalid_video_url`, and the link reaches the log and nothing else.
@Suite(.timeLimit(.minutes(2)))
struct VideoURLIntegrationTests {
    @Test(arguments: ["file:///etc/passwd", "javascript:alert(1)", "https://user:secret@cdn.simulator.invalid/v.mp4"])
    func aHostileVideoURLFailsTheJobAndStaysOutOfWebhookOutcomeAndStore(url: String) async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            simulator.api.setFaults([FaultRule(endpoint: .poll, fault: .reportVideoURL(url), remaining: 1)])
            try await simulator.withRunningServer { port in
                let rig = FaultRig(root: root, simulator: simulator, port: port)
                let request = FaultRig.request(prompt: "hostile link", jobID: "link", callbacks: [rig.hook("/webhooks/link")])
                let webhook = try await rig.run { daemon in
                    try FaultRig.drop(request, jobID: "link", into: daemon)
                    return try await withTimeout(.seconds(30), waitingFor: "the terminal webhook") {
                        try #require(try await simulator.receiver.subscribe().collect(1).first)
                    }
                }
                // The API did hand out that URL (the one poll the rule was for).
                #expect(simulator.api.statistics.faultsInjected == 1)
                let telltales = [url, "passwd", "alert", "secret"]

                // The webhook: failed, no video, and no trace of the link.
                let document = try #require(webhook.json)
                #expect(webhook.signatureValid == true)
                #expect(document["type"]?.stringValue == "video.generation.failed")
                #expect(document["data"]?["status"]?.stringValue == "failed")
                #expect(document["data"]?["error"]?["code"]?.stringValue == "invalid_video_url")
                #expect(document["data"]?["video"] == .null)
                let body = String(decoding: webhook.body, as: UTF8.self)
                for telltale in telltales { #expect(!body.contains(telltale), "webhook carries \(telltale)") }

                // The outcome file in failed/.
                let outcome = try rig.outcome("link")
                #expect(outcome.directory == "failed")
                #expect(outcome.errorCode == "invalid_video_url")
                let file = String(decoding: try Data(contentsOf: URL(fileURLWithPath: "\(root)/spool/failed/link.json")), as: UTF8.self)
                for telltale in telltales { #expect(!file.contains(telltale), "outcome file carries \(telltale)") }

                // The store keeps the code and a message without the link.
                let store = try SQLiteJobStore(directory: root + "/state", readOnly: true)
                let job = try #require(try await store.job(JobID("link")!))
                #expect(job.failure?.code == .invalidVideoURL)
                #expect(job.videoURL == nil)
                for telltale in telltales {
                    #expect(job.failure?.message.contains(telltale) == false, "store's message carries \(telltale)")
                }

                // The log has it, on the job's failure line.
                let failed = rig.log.entries.filter { $0.message == "Job failed" && $0["job.id"] == "link" }
                #expect(failed.count == 1)
                #expect(failed.first?["error.code"] == "invalid_video_url")
                #expect(failed.first?["error.detail"] == url.debugDescription)
            }
        }
    }

    @Test func onlyAnHTTPAPIBaseURLLetsHTTPVideoLinksThrough() {
        var settings = DaemonSettings()
        #expect(settings.apiBaseURL.hasPrefix("https://"))
        #expect(!settings.pipelinePolicy.acceptsHTTPVideoURLs)
        settings.apiBaseURL = "HTTP://127.0.0.1:8089"
        #expect(settings.pipelinePolicy.acceptsHTTPVideoURLs)
    }

    @Test func anHTTPSVideoURLStillCompletes() async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            let url = "https://cdn.simulator.invalid/generations/ok.mp4?X-Signature=a%2Fb"
            simulator.api.setFaults([FaultRule(endpoint: .poll, fault: .reportVideoURL(url), remaining: 1)])
            try await simulator.withRunningServer { port in
                // The link cannot be fetched (.invalid): this is about passing it on, not storing it.
                let rig = FaultRig(root: root, simulator: simulator, port: port) { $0.storeVideos = false }
                let request = FaultRig.request(prompt: "good link", jobID: "good", callbacks: [rig.hook("/webhooks/good")])
                let webhook = try await rig.run { daemon in
                    try FaultRig.drop(request, jobID: "good", into: daemon)
                    return try await withTimeout(.seconds(30), waitingFor: "the terminal webhook") {
                        try #require(try await simulator.receiver.subscribe().collect(1).first)
                    }
                }
                let document = try #require(webhook.json)
                #expect(document["type"]?.stringValue == "video.generation.completed")
                #expect(document["data"]?["video"]?["url"]?.stringValue == url)
            }
        }
    }
}
