import Foundation
import VideoSpoolSimulator

/// Requests arriving at a steady rate; measures how soon each dropped file is submitted.
struct SteadyScenario {
    var ratePerSecond = 100
    var seconds = 60

    func run(binary: String) async throws -> ScenarioResult {
        let workspace = try BenchWorkspace(name: "steady")
        defer { workspace.remove() }
        let simulator = BenchWorkspace.simulator(generation: .fixed(.zero))
        let total = ratePerSecond * seconds
        return try await simulator.withRunningServer { port in
            try workspace.configure(port: port, api: BenchConfiguration.throughputAPI)
            let webhooks = simulator.receiver.subscribe()
            let daemon = try workspace.start(binary: binary)
            try await ReadyWait.untilSpoolIsWatched(daemon: daemon, workspace: workspace)
            let cpuBefore = try daemon.cpuSeconds()

            // Each file at its own moment on a fixed grid, so a slow drop does not shift the rest.
            let dropper = Task {
                var dropped: [Int: ContinuousClock.Instant] = [:]
                let start = ContinuousClock.now
                let spacing = Duration.seconds(1) / ratePerSecond
                for index in 0..<total {
                    try await Task.sleep(until: start + spacing * index, clock: .continuous)
                    try workspace.drop(index, port: port)
                    dropped[index] = .now
                }
                return dropped
            }
            let arrivals = try await WebhookArrivals.collect(total, from: webhooks, daemon: daemon, workspace: workspace)
            let dropped = try await dropper.value
            let cpu = try daemon.cpuSeconds() - cpuBefore
            let memory = try daemon.memoryMiB()
            await daemon.stop()

            var result = ScenarioResult(name: "steady", summary: "\(ratePerSecond) requests/s for \(seconds) s")
            let timeline = SimulatorTimeline(simulator)
            let dropToSubmit = dropped.compactMap { index, instant in timeline.submittedAt[index].map { ($0 - instant).milliseconds } }
            result.add("drop → submit p50", percentile(dropToSubmit, 50), "ms")
            result.add("drop → submit p99", percentile(dropToSubmit, 99), "ms", .atMost(20))
            let completionToWebhook = arrivals.byJob.compactMap { index, instant in
                timeline.completionSeen(index).map { (instant - $0).milliseconds }
            }
            result.add("completion seen → webhook p50", percentile(completionToWebhook, 50), "ms")
            result.add("completion seen → webhook p99", percentile(completionToWebhook, 99), "ms")
            result.add("daemon CPU per job", cpu * 1000 / Double(total), "ms")
            result.add("peak RSS", memory.peak, "MiB")
            return result
        }
    }
}
