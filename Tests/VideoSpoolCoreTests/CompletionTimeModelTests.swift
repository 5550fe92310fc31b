import Testing
import VideoSpoolCore

private let key = CompletionTimeKey(model: seedanceModel, resolution: "720p", durationSeconds: 5)

/// A distribution of exact observations (interval of zero width) at `seconds`.
func exactDistribution(_ seconds: [Double], capacity: Int = 1000) -> CompletionTimeDistribution {
    var distribution = CompletionTimeDistribution(capacity: capacity)
    for value in seconds { distribution.record(after: value, before: value) }
    return distribution
}

/// A model holding one exact observation per value for `key`.
func learnedModel(_ seconds: [Double], key: CompletionTimeKey) -> CompletionTimeModel {
    var model = CompletionTimeModel()
    for value in seconds { model.record(CompletionObservation(key: key, after: value, before: value)) }
    return model
}

struct CompletionTimeModelTests {
    // MARK: - Distribution

    @Test func quantilesOfExactObservationsAreTheirOrderStatistics() {
        let distribution = exactDistribution((1...100).map(Double.init))
        #expect(abs(distribution.quantile(0.05) - 5) < 0.01)
        #expect(abs(distribution.quantile(0.5) - 50) < 0.01)
        #expect(abs(distribution.quantile(0.9) - 90) < 0.01)
        #expect(abs(distribution.quantile(1) - 100) < 0.01)
    }

    @Test func anIntervalObservationSpreadsEvenlyOverItsInterval() {
        var distribution = CompletionTimeDistribution(capacity: 10)
        distribution.record(after: 100, before: 110)
        #expect(abs(distribution.quantile(0.5) - 105) < 0.01)
        #expect(abs(distribution.probabilityComplete(by: 102) - 0.2) < 1e-9)
        #expect(distribution.probabilityComplete(by: 99) == 0)
        #expect(distribution.probabilityComplete(by: 110) == 1)
    }

    @Test func theWindowKeepsOnlyTheNewestObservations() {
        var distribution = CompletionTimeDistribution(capacity: 50)
        for _ in 0..<50 { distribution.record(after: 200, before: 200) }
        for _ in 0..<50 { distribution.record(after: 100, before: 100) }
        #expect(distribution.count == 50)
        #expect(abs(distribution.quantile(0.99) - 100) < 0.01)
    }

    @Test func anEmptyDistributionSaysNothingIsComplete() {
        let distribution = CompletionTimeDistribution(capacity: 5)
        #expect(distribution.probabilityComplete(by: 1000) == 0)
        #expect(distribution.quantile(0.5) == 0)
    }

    // MARK: - Model

    @Test func aKeyIsNotUsedUntilItHasEnoughObservations() {
        var model = CompletionTimeModel(limits: .init(minimumObservations: 20))
        for index in 0..<19 { model.record(CompletionObservation(key: key, after: 100, before: Double(100 + index))) }
        #expect(model.distribution(for: key) == nil)
        model.record(CompletionObservation(key: key, after: 100, before: 120))
        #expect(model.distribution(for: key)?.count == 20)
    }

    @Test func keysAreLearnedSeparately() {
        var model = learnedModel(Array(repeating: 100, count: 20), key: key)
        let longer = CompletionTimeKey(model: seedanceModel, resolution: "720p", durationSeconds: 10)
        #expect(model.distribution(for: longer) == nil)
        for _ in 0..<20 { model.record(CompletionObservation(key: longer, after: 200, before: 200)) }
        #expect(abs((model.distribution(for: key)?.quantile(0.5) ?? 0) - 100) < 0.01)
        #expect(abs((model.distribution(for: longer)?.quantile(0.5) ?? 0) - 200) < 0.01)
    }

    @Test func memoryIsBoundedPerKeyAndInKeys() {
        var model = CompletionTimeModel(limits: .init(observationsPerKey: 30, keys: 3, minimumObservations: 1))
        for duration in 1...10 {
            let key = CompletionTimeKey(model: seedanceModel, durationSeconds: duration)
            for _ in 0..<100 { model.record(CompletionObservation(key: key, after: 1, before: 2)) }
        }
        #expect(model.keyCount == 3)
        for duration in 8...10 {
            #expect(model.observationCount(for: CompletionTimeKey(model: seedanceModel, durationSeconds: duration)) == 30)
        }
        #expect(model.observationCount(for: CompletionTimeKey(model: seedanceModel, durationSeconds: 1)) == 0)
    }

    @Test func theLeastRecentlyObservedKeyIsForgottenFirst() {
        var model = CompletionTimeModel(limits: .init(keys: 2, minimumObservations: 1))
        let a = CompletionTimeKey(model: "a"), b = CompletionTimeKey(model: "b"), c = CompletionTimeKey(model: "c")
        model.record(CompletionObservation(key: a, after: 1, before: 2))
        model.record(CompletionObservation(key: b, after: 1, before: 2))
        model.record(CompletionObservation(key: a, after: 1, before: 2))
        model.record(CompletionObservation(key: c, after: 1, before: 2))
        #expect(model.observationCount(for: a) == 2)
        #expect(model.observationCount(for: b) == 0)
        #expect(model.observationCount(for: c) == 1)
    }

    // MARK: - Censoring

    @Test func aCompletedJobIsObservedBetweenItsLastRunningReportAndCompletion() throws {
        var job = Job(
            id: JobID(trusted: "j"),
            phase: .completed,
            model: seedanceModel,
            callbackURLs: [],
            metadata: nil,
            acceptedAt: referenceTime,
            sourceName: "j.json",
            parameters: GenerationParameters(resolution: "720p", durationSeconds: 5)
        )
        job.submittedAt = referenceTime
        job.lastRunningAt = referenceTime + .seconds(100)
        job.finishedAt = referenceTime + .seconds(105)
        let observation = try #require(CompletionObservation(job: job))
        #expect(observation.key == key)
        #expect(observation.after == 100)
        #expect(observation.before == 105)

        job.lastRunningAt = nil
        #expect(CompletionObservation(job: job) == nil, "a restart lost the lower bound")
        job.lastRunningAt = referenceTime + .seconds(100)
        job.phase = .failed
        #expect(CompletionObservation(job: job) == nil, "failures teach nothing about completion times")
    }

    @Test func aJobAlreadyCompleteAtItsFirstPollIsPlacedInTheSecondHalfOfTheWait() throws {
        let observation = try #require(
            CompletionObservation(
                key: key,
                submittedAt: referenceTime,
                lastRunningAt: referenceTime,
                completedAt: referenceTime + .seconds(88)
            )
        )
        #expect(observation.after == 44)
        #expect(observation.before == 88)
    }

    /// The point of recording intervals: a schedule that learned from poll times would run late by
    /// half an interval, learn that, and run later still.
    @Test func learningFromPollIntervalsIsUnbiasedWhereLearningFromPollTimesIsLate() {
        var random = SplitMix64(seed: 7)
        var intervals = CompletionTimeDistribution(capacity: 1000)
        var pollTimes = CompletionTimeDistribution(capacity: 1000)
        var truth = CompletionTimeDistribution(capacity: 1000)
        for _ in 0..<1000 {
            let completion = Double.random(in: 90...130, using: &random)
            let offset = Double.random(in: 0..<5, using: &random)  // polls every 5 s at a random phase
            let seenAt = 80 + offset + 5 * ((completion - 80 - offset) / 5).rounded(.up)
            intervals.record(after: seenAt - 5, before: seenAt)
            pollTimes.record(after: seenAt, before: seenAt)
            truth.record(after: completion, before: completion)
        }
        let median = truth.quantile(0.5)
        #expect(abs(intervals.quantile(0.5) - median) < 0.75)
        #expect(pollTimes.quantile(0.5) - median > 2)
    }
}
