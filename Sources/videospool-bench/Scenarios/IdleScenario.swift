import Foundation
import VideoSpoolSimulator

/// A daemon with nothing to do: the CPU it burns is pure overhead. Also what starting costs with
/// an empty spool and an empty store: the process's CPU from exec to READY=1.
struct IdleScenario {
    var window = Duration.seconds(60)

    func run(binary: String) async throws -> ScenarioResult {
        let workspace = try BenchWorkspace(name: "idle")
        defer { workspace.remove() }
        let simulator = BenchWorkspace.simulator(generation: .fixed(.zero))
        return try await simulator.withRunningServer { port in
            try workspace.configure(port: port)
            let ready = try await ReadyStart.launch(workspace, binary: binary)
            let daemon = ready.daemon
            // Start-up work (store open, first scan) is not idling.
            try await Task.sleep(for: .seconds(2))
            let cpuBefore = try daemon.cpuSeconds()
            let switchesBefore = daemon.contextSwitches()
            let start = ContinuousClock.now
            try await Task.sleep(for: window)
            let seconds = (ContinuousClock.now - start).milliseconds / 1000
            let cpu = try daemon.cpuSeconds() - cpuBefore
            let switches = daemon.contextSwitches(since: switchesBefore)
            let memory = try daemon.memoryMiB()
            await daemon.stop()

            var result = ScenarioResult(name: "idle", summary: "no work for \(Metric.format(seconds)) s")
            result.add("CPU time", cpu, "s")
            result.add("CPU", cpu / seconds * 100, "%", .atMost(0.1))
            result.add("wake-ups (context switches)", Double(switches) / seconds, "/s")
            result.add("RSS", memory.current, "MiB")
            result.add("CPU exec → READY (empty spool)", ready.cpuSeconds * 1000, "ms")
            result.notes.append(
                "READY \(Metric.format(ready.seconds * 1000)) ms after exec; its CPU read from /proc "
                    + "(every thread's schedstat) when READY=1 arrived"
            )
            return result
        }
    }
}
