import Foundation
import VideoSpoolSimulator

/// Many generations in flight with realistic generation times: what waiting costs.
struct WaitingScenario {
    var inFlight = 10_000
    var window = Duration.seconds(120)

    func run(binary: String) async throws -> ScenarioResult {
        let workspace = try BenchWorkspace(name: "waiting")
        defer { workspace.remove() }
        let simulator = BenchWorkspace.simulator(generation: .seedance(scale: 1), queued: .seconds(2))
        return try await simulator.withRunningServer { port in
            try workspace.configure(port: port, api: BenchConfiguration.waitingAPI)
            for index in 0..<inFlight { try workspace.drop(index, port: port) }
            let daemon = try workspace.start(binary: binary)
            let submitStart = ContinuousClock.now
            while simulator.api.statistics.acceptedSubmissions < inFlight {
                guard daemon.process.isRunning else { throw BenchError("the daemon exited while submitting") }
                try await Task.sleep(for: .milliseconds(50))
            }
            let submitted = ContinuousClock.now - submitStart

            let cpuBefore = try daemon.cpuSeconds()
            let switchesBefore = daemon.contextSwitches()
            let pollsBefore = simulator.api.statistics.polls
            let webhooksBefore = simulator.receiver.received.count
            let windowStart = ContinuousClock.now
            var peakRSS = 0.0
            while ContinuousClock.now - windowStart < window {
                peakRSS = max(peakRSS, try daemon.memoryMiB().current)
                try await Task.sleep(for: .seconds(1))
            }
            let seconds = (ContinuousClock.now - windowStart).milliseconds / 1000
            let cpu = try daemon.cpuSeconds() - cpuBefore
            let switches = daemon.contextSwitches(since: switchesBefore)
            let polls = simulator.api.statistics.polls - pollsBefore
            let finished = simulator.receiver.received.count - webhooksBefore
            let threads = daemon.threadCount()
            await daemon.stop()

            var result = ScenarioResult(
                name: "waiting",
                summary: "\(inFlight) generations in flight for \(Metric.format(seconds)) s; Seedance times 83–253 s, median ≈ 105 s"
            )
            result.add("RSS while waiting (peak)", peakRSS, "MiB", .atMost(100))
            result.add("CPU while waiting", cpu / seconds * 100, "%")
            result.add("wake-ups (context switches)", Double(switches) / seconds, "/s")
            result.add("polls per job in the window", Double(polls) / Double(inFlight), "polls")
            result.add("threads", Double(threads), "")
            result.notes.append(
                "submitting all \(inFlight) took \(Metric.format(submitted.milliseconds / 1000)) s (not in the window); "
                    + "\(finished) generations finished and were delivered during the window"
            )
            return result
        }
    }
}
