import Testing
import VideoSpoolCore

private let start = referenceTime

/// 100 exact observations, 101 s … 200 s: p5 = 105 s, p90 = 190 s.
private let evenlySpread = exactDistribution((1...100).map { 100 + Double($0) })

struct LearnedPollScheduleTests {
    private let schedule = PollSchedule(jitter: 0, denseInterval: .seconds(4))

    @Test func theLearnedFirstPollComesWhenCompletionBecomesLikely() {
        let first = schedule.firstPoll(submittedAt: start, learned: evenlySpread)
        #expect(abs((first - start).secondsDouble - 105) < 0.01)
    }

    @Test(arguments: [105.0, 150, 189])
    func pollsAreDenseWhileCompletionIsLikely(waited: Double) {
        let now = start + .seconds(double: waited)
        var random = SplitMix64(seed: 1)
        let next = schedule.nextPoll(now: now, submittedAt: start, learned: evenlySpread, using: &random)
        #expect(next - now == .seconds(4))
    }

    @Test(arguments: [(190.0, 4.0), (200, 6.5), (210, 9), (250, 15), (1000, 15)])
    func pollsBackOffTowardTheFixedIntervalInTheTail(waited: Double, spacing: Double) {
        let now = start + .seconds(double: waited)
        var random = SplitMix64(seed: 1)
        let next = schedule.nextPoll(now: now, submittedAt: start, learned: evenlySpread, using: &random)
        #expect(abs((next - now).secondsDouble - spacing) < 0.01)
    }

    @Test func learnedPollsAreJittered() {
        let jittered = PollSchedule(jitter: 0.1, denseInterval: .seconds(4))
        let now = start + .seconds(120)
        for seed in jitterSeeds {
            var random = SplitMix64(seed: seed)
            let next = jittered.nextPoll(now: now, submittedAt: start, learned: evenlySpread, using: &random)
            #expect((3.6...4.4).contains((next - now).secondsDouble))
        }
    }

    @Test func learnedPollsNeverPassTheDeadline() {
        let short = PollSchedule(jitter: 0, deadline: .seconds(100), denseInterval: .seconds(4))
        #expect(short.firstPoll(submittedAt: start, learned: evenlySpread) == start + .seconds(100))
        var random = SplitMix64(seed: 1)
        let next = short.nextPoll(now: start + .seconds(98), submittedAt: start, learned: evenlySpread, using: &random)
        #expect(next == start + .seconds(100))
    }

    @Test func theFixedScheduleIsUnchanged() {
        let fixed = PollSchedule(mode: .fixed, jitter: 0)
        #expect(fixed.firstPoll(submittedAt: start) == start + .seconds(30))
        var random = SplitMix64(seed: 1)
        #expect(fixed.nextPoll(now: start + .seconds(30), submittedAt: start, using: &random) == start + .seconds(45))
    }

    @Test func theDefaultScheduleIsLearned() {
        #expect(PollSchedule().mode == .learned)
        #expect(PipelinePolicy().poll.mode == .learned)
    }
}

extension LearnedPollScheduleTests {
    @Test func theFixedIntervalCapsEvenTheDenseInterval() {
        let quick = PollSchedule(interval: .seconds(2), jitter: 0, denseInterval: .seconds(4))
        var random = SplitMix64(seed: 1)
        let now = start + .seconds(120)
        #expect(quick.nextPoll(now: now, submittedAt: start, learned: evenlySpread, using: &random) == now + .seconds(2))
    }
}
