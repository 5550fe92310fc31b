/// The burst with metrics off and on, alternating in one run so both see the same machine: the
/// daemon's CPU per job, median of each, and their ratio (target: at most 5 % more with metrics on).
struct MetricsCostScenario {
    var burst = BurstScenario()
    /// Pairs of bursts (off, then on).
    var rounds = 3

    static let ratioMetric = "CPU per job, metrics on / off"

    func run(binary: String) async throws -> ScenarioResult {
        var off: [Double] = []
        var on: [Double] = []
        var notes: [String] = []
        for round in 1...rounds {
            for metrics in [false, true] {
                var scenario = burst
                scenario.metrics = metrics
                let result = try await scenario.run(binary: binary)
                guard let cpu = result.metrics.first(where: { $0.name == "daemon CPU per job" })?.value else {
                    throw BenchError("the burst reported no CPU per job")
                }
                if metrics { on.append(cpu) } else { off.append(cpu) }
                notes.append("round \(round), metrics \(metrics ? "on" : "off"): \(Metric.format(cpu)) ms per job"
                    + (result.notes.first { $0.hasPrefix("/metrics") }.map { "; " + $0 } ?? ""))
            }
        }
        var result = ScenarioResult(
            name: "metrics cost",
            summary: "the burst (\(burst.preloaded) + \(burst.droppedWhileRunning) jobs) \(rounds) times with metrics off and on, alternating; medians"
        )
        let medianOff = percentile(off, 50)
        let medianOn = percentile(on, 50)
        result.add("daemon CPU per job, metrics off", medianOff, "ms")
        result.add("daemon CPU per job, metrics on", medianOn, "ms")
        result.add(Self.ratioMetric, medianOn / medianOff, "×", .atMost(1.05))
        // The end-to-end ratio moves by several per cent from run to run on a shared machine; the
        // metrics work itself, timed in this process, is a figure that noise cannot hide.
        let eventCost = MetricsEventCost.perJob()
        result.add("metrics work per job, in process", eventCost, "µs")
        result.add("… as a share of CPU per job (off)", eventCost / (medianOff * 1000) * 100, "%", .atMost(5))
        result.notes = notes
        return result
    }
}
