import Foundation
import VideoSpoolCore
import VideoSpoolSimulator

/// What a new user tries first (issue 15): 400 requests dropped at once into the spool of a running
/// daemon, generations of 3 s, the fixed schedule polling every second, every generation allowed in
/// flight, everything else as shipped (downloads on; the variant turns them off). Measures the whole
/// process from exec to exit, start-up and shutdown included: at moderate loads each job pays its
/// wake-ups and commits alone, so this is the cost per job a deployment sees.
struct ModerateScenario {
    var jobs = 400
    /// `results.download`, as shipped `true`: each video (the simulator's small MP4, served on
    /// loopback) is stored before its webhook.
    var downloads = true

    /// The name `--only` takes and the report shows.
    var name: String { downloads ? "moderate" : "moderate-no-downloads" }

    func run(binary: String) async throws -> ScenarioResult {
        let workspace = try BenchWorkspace(name: name)
        defer { workspace.remove() }
        let simulator = BenchWorkspace.simulator(generation: .fixed(.seconds(3)))
        // Links to the simulator's own videos, so that the downloads as shipped succeed.
        simulator.api.updateConfiguration { $0.videoBaseURL = nil }
        return try await simulator.withRunningServer { port in
            try workspace.configure(
                port: port,
                api: BenchConfiguration.moderateAPI(inFlight: jobs),
                results: "download: \(downloads)"
            )
            let webhooks = simulator.receiver.subscribe()
            let ready = try await ReadyStart.launch(workspace, binary: binary)
            let daemon = ready.daemon
            let dropped = ContinuousClock.now
            for index in 0..<jobs { try workspace.drop(index, port: port) }
            let arrivals = try await WebhookArrivals.collect(jobs, from: webhooks, daemon: daemon, workspace: workspace)
            let cpuAtLastWebhook = try daemon.preciseCPUSeconds()
            let lifetime = await daemon.stopMeasuringLifetime()

            let completed = simulator.receiver.received.filter {
                $0.json?["type"]?.stringValue == "video.generation.completed"
            }.count
            guard completed == jobs else {
                throw BenchError("\(completed) of \(jobs) webhooks said completed; see \(workspace.root)/daemon.log")
            }
            let stored = try Self.storedVideos(in: workspace.root + "/state/videos")
            guard stored == (downloads ? jobs : 0) else {
                throw BenchError("the daemon stored \(stored) videos with results.download \(downloads), for \(jobs) jobs")
            }

            var result = ScenarioResult(
                name: name,
                summary: "\(jobs) requests dropped at once into a running daemon's spool; generations of 3 s; "
                    + "fixed schedule, a poll every second; \(jobs) generations in flight; "
                    + (downloads ? "downloads on (as shipped)" : "results.download false")
            )
            let wall = (arrivals.last - daemon.startedAt).milliseconds / 1000
            result.add("whole-process CPU per job", lifetime.cpuSeconds * 1000 / Double(jobs), "ms", .atMost(1))
            result.add("whole-process CPU, exec → exit", lifetime.cpuSeconds, "s")
            result.add("peak RSS", lifetime.peakRSSMiB, "MiB")
            result.add("wall time, process start → last webhook", wall, "s")
            result.add("polls per job", Double(simulator.api.statistics.polls) / Double(jobs), "polls")
            result.notes.append(
                "CPU exec → READY \(Metric.format(ready.cpuSeconds * 1000)) ms (READY after \(Metric.format(ready.seconds)) s); "
                    + "READY → last webhook \(Metric.format((cpuAtLastWebhook - ready.cpuSeconds) * 1000)) ms; "
                    + "last webhook → exit \(Metric.format((lifetime.cpuSeconds - cpuAtLastWebhook) * 1000)) ms"
            )
            result.notes.append(
                "drop → last webhook \(Metric.format((arrivals.last - dropped).milliseconds / 1000)) s; "
                    + "stop took \(Metric.format(lifetime.stopSeconds)) s, exit status \(lifetime.status); "
                    + "CPU from the reaped child's rusage \(Metric.format(lifetime.cpuSeconds)) s, "
                    + "last /proc reading before the exit \(Metric.format(lifetime.lastReadCPUSeconds)) s; "
                    + "\(simulator.api.statistics.submissions) submissions, \(simulator.api.statistics.videoRequests) video requests"
            )
            return result
        }
    }

    /// How many videos (`*.mp4`) the daemon stored; none if it never made the directory.
    private static func storedVideos(in directory: String) throws -> Int {
        guard FileManager.default.fileExists(atPath: directory) else { return 0 }
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".mp4") }.count
    }
}
