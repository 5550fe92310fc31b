import Foundation
import VideoSpoolCore
import VideoSpoolSimulator

/// The daemon itself stores large videos: N jobs whose generations complete at once, each video
/// `bytes` long, downloaded with `results.max_concurrent` N into its results directory (the disk,
/// as shipped) before the webhooks go out. Measures the aggregate throughput from the first
/// completion the API reported to the last webhook, and the daemon's resident memory above its
/// idle level while the downloads run (sampled from /proc every 20 ms).
struct DaemonDownloadScenario {
    var downloads = 32
    var bytes: Int64 = 200 * 1024 * 1024

    func run(binary: String) async throws -> ScenarioResult {
        let workspace = try BenchWorkspace(name: "daemon-download")
        defer { workspace.remove() }
        let simulator = BenchWorkspace.simulator(generation: .fixed(.zero))
        // Video links point at the simulator itself (the other scenarios' point nowhere).
        simulator.api.updateConfiguration { $0.videoBaseURL = nil }
        simulator.api.setFaults([try FaultRule(parsing: "video:size=\(bytes)")])
        return try await simulator.withRunningServer { port in
            try workspace.configure(
                port: port,
                api: "max_in_flight_generations: \(downloads)",
                results: "download: true\nmax_concurrent: \(downloads)"
            )
            let webhooks = simulator.receiver.subscribe()
            let daemon = try workspace.start(binary: binary)
            try await ReadyWait.untilSpoolIsWatched(daemon: daemon, workspace: workspace)
            try await Task.sleep(for: .seconds(1))
            let idle = try daemon.memoryMiB().current
            let cpuBefore = try daemon.cpuSeconds()
            let sampling = Task { await Self.peakResident(of: daemon) }
            for index in 0..<downloads { try workspace.drop(index, port: port) }
            let arrivals = try await WebhookArrivals.collect(
                downloads, from: webhooks, daemon: daemon, workspace: workspace, stallLimit: .seconds(60)
            )
            sampling.cancel()
            let peak = max(await sampling.value, try daemon.memoryMiB().current)
            let cpu = try daemon.cpuSeconds() - cpuBefore
            await daemon.stop()

            // Every job announced the whole video, stored under its own name.
            let stored = try Self.storedSizes(in: workspace.root + "/state/videos")
            guard stored.count == downloads, stored.values.allSatisfy({ $0 == bytes }) else {
                throw BenchError("the daemon stored \(stored.count) videos of sizes \(Set(stored.values)), expected \(downloads) of \(bytes)")
            }
            let timeline = SimulatorTimeline(simulator)
            let firstCompletion = (0..<downloads).compactMap { timeline.completionSeen($0) }.min() ?? daemon.startedAt
            let seconds = (arrivals.last - firstCompletion).milliseconds / 1000
            let total = Double(bytes) * Double(downloads)

            var result = ScenarioResult(
                name: "download (daemon)",
                summary: "\(downloads) jobs whose videos (\(bytes / 1_048_576) MiB each) the daemon stores at once "
                    + "from the simulator on loopback, to its results directory on the disk, before each webhook"
            )
            result.add("aggregate throughput", total / 1e6 / seconds, "MB/s", .atLeast(500))
            result.add("first completion → last webhook", seconds, "s")
            result.add("daemon RSS growth over idle", peak - idle, "MiB", .atMost(32))
            result.add("daemon RSS idle", idle, "MiB")
            result.add("daemon RSS peak", peak, "MiB")
            result.add("daemon CPU per GB", cpu / (total / 1e9), "s")
            result.notes.append("the simulator (serving the videos) runs in the benchmark process; its CPU is not the daemon's")
            return result
        }
    }

    /// The daemon's highest resident memory until cancelled, sampled every 20 ms.
    private static func peakResident(of daemon: DaemonUnderTest) async -> Double {
        var peak = 0.0
        while !Task.isCancelled {
            peak = max(peak, (try? daemon.memoryMiB().current) ?? 0)
            try? await Task.sleep(for: .milliseconds(20))
        }
        return peak
    }

    /// The size of every stored video (`*.mp4`), by name.
    private static func storedSizes(in directory: String) throws -> [String: Int64] {
        var sizes: [String: Int64] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".mp4") {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/" + name)
            sizes[name] = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        }
        return sizes
    }
}
