import Foundation
public import Logging
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolRuntime
import VideoSpoolSimulator

/// `videospool demo`: the daemon, the simulated API and a webhook receiver in a temporary
/// directory. Drops a few requests (one invalid), shows progress and each webhook as it arrives,
/// and succeeds when every request is accounted for.
public enum Demo {
    public static func run(
        logger: Logger,
        timeout: Duration = .seconds(120),
        output: @escaping @Sendable (String) -> Void
    ) async throws -> Bool {
        let root = try makeTemporaryDirectory()
        let secretBytes = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let secret = try WebhookSecret(parsing: "whsec_" + Data(secretBytes).base64EncodedString())
        let simulator = Simulator(
            configuration: SimulatorConfiguration(
                apiKey: "demo-key",
                queuedTime: .milliseconds(500),
                generationTime: .uniform(.seconds(2), .seconds(4)),
                // Links to videos the simulator serves, so the demo's links work.
                videoBaseURL: nil,
                webhookSecret: secret
            ),
            logger: logger
        )
        output("videospool demo: daemon + simulated AI/ML API + webhook receiver in \(root)")
        let succeeded = try await simulator.withRunningServer { port in
            output("  simulated API and receiver listening on http://127.0.0.1:\(port)")
            var settings = DaemonSettings()
            settings.spoolDirectory = root + "/spool"
            settings.stateDirectory = root + "/state"
            settings.apiBaseURL = "http://127.0.0.1:\(port)"
            settings.pollFirstDelaySeconds = 1
            settings.pollIntervalSeconds = 1
            settings.pollDeadlineSeconds = 60
            settings.allowPrivateNetworks = true
            settings.webhookRetryScheduleSeconds = [1, 2, 4]
            settings.settleSeconds = 0.5
            let daemon = try Daemon.make(
                settings: settings,
                credentials: Credentials(apiKey: "demo-key", webhookSecret: secret),
                logger: logger
            )
            return try await run(
                daemon: daemon,
                simulator: simulator,
                callbackURL: "http://127.0.0.1:\(port)/webhooks/demo",
                timeout: timeout,
                output: output
            )
        }
        if succeeded { try? FileManager.default.removeItem(atPath: root) } else { output("  (kept \(root) for inspection)") }
        return succeeded
    }

    private static func run(
        daemon: Daemon,
        simulator: Simulator,
        callbackURL: String,
        timeout: Duration,
        output: @escaping @Sendable (String) -> Void
    ) async throws -> Bool {
        let requests = DemoRequests.files(callbackURL: callbackURL)
        let started = ContinuousClock.now
        let result = try await daemon.run { daemon in
            try await withThrowingTaskGroup(of: Bool?.self) { helpers in
                for (name, body) in requests {
                    try drop(name: name, bytes: JSONWriter(pretty: true).bytes(body), into: daemon.spool.incoming)
                    output("→ dropped \(name)")
                }
                helpers.addTask {
                    await watch(simulator.receiver, expecting: requests.count, started: started, output: output)
                    return true
                }
                helpers.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: .seconds(1))
                        output("  [\(elapsed(since: started))] \(daemon.pipeline.status)")
                    }
                    return nil
                }
                helpers.addTask {
                    try await Task.sleep(for: timeout)
                    return false
                }
                var outcome = false
                while let next = try await helpers.next() {
                    if let next {
                        outcome = next
                        break
                    }
                }
                helpers.cancelAll()
                return outcome
            }
        }
        guard result else {
            output("✗ not every request was accounted for within \(timeout)")
            return false
        }
        return summarize(daemon: daemon, simulator: simulator, requests: requests.count, output: output)
    }

    private static func watch(
        _ receiver: WebhookReceiver,
        expecting count: Int,
        started: ContinuousClock.Instant,
        output: @Sendable (String) -> Void
    ) async {
        var seen = Set<String>()
        for await item in receiver.subscribe() {
            guard let id = item.webhookID, seen.insert(id).inserted else { continue }
            let data = item.json?["data"]
            let type = item.json?["type"]?.stringValue ?? "?"
            let job = data?["job_id"]?.stringValue ?? "?"
            let signature = item.signatureValid == true ? "signature verified" : "SIGNATURE INVALID"
            var detail = ""
            if let url = data?["video"]?["url"]?.stringValue { detail = "video \(url)" }
            if let file = data?["video"]?["file"]?.stringValue, let sha256 = data?["video"]?["sha256"]?.stringValue {
                let bytes = data?["video"]?["bytes"]?.numberValue?.text ?? "?"
                detail = "stored \(file) (\(bytes) bytes, sha256 \(sha256))"
            } else if let error = data?["video"]?["download_error"]?.stringValue {
                detail += " (not stored: \(error))"
            }
            if let message = data?["error"]?["message"]?.stringValue { detail = "error: \(message)" }
            output("← [\(elapsed(since: started))] \(type) job \(job) (\(signature)) \(detail)")
            if seen.count >= count { return }
        }
    }

    private static func summarize(
        daemon: Daemon,
        simulator: Simulator,
        requests: Int,
        output: (String) -> Void
    ) -> Bool {
        let fileManager = FileManager.default
        let done = (try? fileManager.contentsOfDirectory(atPath: daemon.spool.doneDirectory)) ?? []
        let failed = (try? fileManager.contentsOfDirectory(atPath: daemon.spool.failedDirectory)) ?? []
        let rejected = ((try? fileManager.contentsOfDirectory(atPath: daemon.spool.rejectedDirectory)) ?? [])
            .filter { $0.hasSuffix(".error.json") }
        let incoming = ((try? fileManager.contentsOfDirectory(atPath: daemon.spool.incoming)) ?? []).filter {
            !$0.hasPrefix(".")
        }
        let invalidSignatures = simulator.receiver.received.filter { $0.signatureValid != true }.count
        output("outcome files: \(done.count) in done/, \(failed.count) in failed/, \(rejected.count) rejection report(s)")
        for name in done.sorted() { output("  done/\(name)") }
        for name in rejected.sorted() { output("  rejected/\(name)") }
        let videos = ((try? fileManager.contentsOfDirectory(atPath: daemon.settings.resultsDirectory)) ?? [])
            .filter { !$0.hasPrefix(".") }
        output("stored videos: \(videos.count) in \(daemon.settings.resultsDirectory)")
        let accounted = done.count + failed.count + rejected.count
        let ok = accounted == requests && incoming.isEmpty && invalidSignatures == 0
            && simulator.api.statistics.acceptedSubmissions == done.count + failed.count
        output(
            ok
                ? "✓ all \(requests) requests accounted for; every webhook signature verified"
                : "✗ accounted for \(accounted) of \(requests); \(incoming.count) left in incoming/; "
                    + "\(invalidSignatures) bad signature(s)"
        )
        return ok
    }

    /// Publishes a request the way writers should: a hidden temporary name, then rename.
    static func drop(name: String, bytes: [UInt8], into directory: String) throws {
        let temporary = directory + "/." + name + ".tmp"
        try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, directory + "/" + name) == 0 else {
            throw CocoaError(.fileWriteUnknown)
        }
    }

    private static func elapsed(since start: ContinuousClock.Instant) -> String {
        let seconds = (ContinuousClock.now - start).secondsDouble
        return String(format: "%5.1fs", seconds)
    }

    private static func makeTemporaryDirectory() throws -> String {
        var template = Array((FileManager.default.temporaryDirectory.path + "/videospool-demo.XXXXXX").utf8CString)
        guard let pointer = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        return String(cString: pointer)
    }
}
