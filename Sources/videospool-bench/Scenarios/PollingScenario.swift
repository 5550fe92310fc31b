import VideoSpoolBenchmarks
import VideoSpoolCore

/// The learned poll schedule against fixed 15 s and 10 s loops, on virtual time: the daemon's own
/// state machine and completion-time model, generation times from Seedance's documented spread.
struct PollingScenario {
    var jobs = 20_000
    var seed: UInt64 = 20_261_125

    func run() -> [ScenarioResult] {
        let rows = PollScheduleComparison.run(samples: jobs, seed: seed)
        let fixed15 = rows.first { $0.schedule == "fixed 15 s" }
        return rows.map { row in
            var result = ScenarioResult(
                name: "polling: \(row.schedule)",
                summary: "\(row.jobs) simulated jobs, Seedance 5 s clips (83–253 s, median ≈ 105 s), virtual time"
            )
            let isLearned = row.schedule == "learned"
            result.add(
                "polls per job", row.meanPolls, "polls",
                isLearned ? fixed15.map { .atMost($0.meanPolls) } : nil
            )
            result.add("completion → seen, mean", row.meanDelaySeconds, "s", isLearned ? .atMost(3) : nil)
            result.add("completion → seen, p95", row.p95DelaySeconds, "s")
            return result
        }
    }
}
