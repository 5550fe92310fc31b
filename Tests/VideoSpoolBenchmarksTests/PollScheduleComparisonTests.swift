import Testing
import VideoSpoolBenchmarks
import VideoSpoolCore
import VideoSpoolSimulator

/// The learned poll schedule on simulated (virtual) time: a correctness check of the algorithm
/// against issue 5's targets, not a timing test.
struct PollScheduleComparisonTests {
    @Test func theLearnedScheduleBeatsTheFifteenSecondLoop() throws {
        let rows = PollScheduleComparison.run(samples: 2000, seed: 20_260_501)
        let learned = try #require(rows.first { $0.schedule == "learned" })
        let fifteen = try #require(rows.first { $0.schedule == "fixed 15 s" })
        let ten = try #require(rows.first { $0.schedule == "fixed 10 s" })
        #expect(learned.meanPolls < fifteen.meanPolls, "\(learned) vs \(fifteen)")
        #expect(learned.meanDelaySeconds < 3, "\(learned)")
        #expect(learned.meanDelaySeconds < ten.meanDelaySeconds, "\(learned) vs \(ten)")
        #expect(rows.allSatisfy { $0.jobs == 2000 })
    }

    @Test func theFixedLoopsMatchTheirArithmetic() throws {
        let rows = PollScheduleComparison.run(samples: 2000, seed: 1)
        let fifteen = try #require(rows.first { $0.schedule == "fixed 15 s" })
        // Uniform phase: a fixed loop sees completion half an interval late on average, never later
        // than a whole one.
        #expect(abs(fifteen.meanDelaySeconds - 7.5) < 0.5)
        #expect(fifteen.p95DelaySeconds <= 15)
    }

    @Test func theSeedanceSpreadMatchesTheDocumentation() {
        var random = SplitMix64(seed: 3)
        let draws = (0..<20_000).map { _ in GenerationTimeModel.seedanceSeconds(using: &random) }.sorted()
        #expect(draws.first! >= 83)
        #expect(draws.last! <= 253)
        #expect(abs(draws[draws.count / 2] - 105) < 2, "median \(draws[draws.count / 2])")
        let atMinimum = draws.filter { $0 < 84 }.count
        #expect(Double(atMinimum) / Double(draws.count) < 0.01, "no pile-up at the minimum")
    }
}
