import Testing
import VideoSpoolCore

struct BackoffTests {
    private let exact = Backoff(initial: .seconds(2), maximum: .seconds(300), multiplier: 2, jitter: 0)

    @Test(arguments: [
        (1, 2.0), (2, 4), (3, 8), (4, 16), (5, 32), (6, 64), (7, 128), (8, 256), (9, 300), (10, 300), (100, 300),
        (10_000, 300), (Int.max, 300), (0, 2), (-5, 2),
    ] as [(Int, Double)])
    func delaysGrowExponentiallyUpToTheMaximum(retry: Int, seconds: Double) {
        var random = SplitMix64(seed: 1)
        #expect(exact.delay(forRetry: retry, using: &random) == .seconds(seconds))
    }

    @Test func theMultiplierIsConfigurable() {
        var random = SplitMix64(seed: 1)
        let tripling = Backoff(initial: .seconds(1), maximum: .seconds(1000), multiplier: 3, jitter: 0)
        let delays = (1...5).map { tripling.delay(forRetry: $0, using: &random) }
        #expect(delays == [.seconds(1), .seconds(3), .seconds(9), .seconds(27), .seconds(81)])
    }

    @Test func subSecondDelaysAreKeptToTheMillisecond() {
        var random = SplitMix64(seed: 1)
        let fast = Backoff(initial: .milliseconds(250), maximum: .seconds(10), jitter: 0)
        #expect(fast.delay(forRetry: 1, using: &random) == .milliseconds(250))
        #expect(fast.delay(forRetry: 3, using: &random) == .milliseconds(1000))
    }

    @Test(arguments: [1, 3, 9, 50])
    func jitterStaysWithinItsBounds(retry: Int) {
        let backoff = Backoff()  // 2 s doubling to 300 s, ±20 %
        let base = min(2 * Double(1 << min(retry - 1, 20)), 300)
        var seen = Set<Duration>()
        for seed in jitterSeeds {
            var random = SplitMix64(seed: seed)
            let delay = backoff.delay(forRetry: retry, using: &random).secondsDouble
            #expect(delay >= base * 0.8 - 0.001 && delay <= base * 1.2 + 0.001, "seed \(seed): \(delay) s")
            seen.insert(.seconds(delay))
        }
        #expect(seen.count > 20, "jitter actually varies the delay")
    }

    @Test func theSameSeedGivesTheSameDelays() {
        var first = SplitMix64(seed: 99)
        var second = SplitMix64(seed: 99)
        let backoff = Backoff()
        let a = (1...10).map { backoff.delay(forRetry: $0, using: &first) }
        let b = (1...10).map { backoff.delay(forRetry: $0, using: &second) }
        #expect(a == b)
    }

    @Test func aLongerRetryAfterWins() {
        var random = SplitMix64(seed: 2)
        #expect(Backoff().delay(forRetry: 1, retryAfter: .seconds(30), using: &random) == .seconds(30))
        #expect(exact.delay(forRetry: 1, retryAfter: .milliseconds(2500), using: &random) == .milliseconds(2500))
    }

    @Test func aShorterRetryAfterDoesNotShortenTheBackoff() {
        var random = SplitMix64(seed: 2)
        #expect(exact.delay(forRetry: 3, retryAfter: .seconds(1), using: &random) == .seconds(8))
        #expect(exact.delay(forRetry: 3, retryAfter: .zero, using: &random) == .seconds(8))
    }

    @Test func retryAfterIsCappedAtTheMaximum() {
        var random = SplitMix64(seed: 2)
        #expect(Backoff().delay(forRetry: 1, retryAfter: .seconds(7200), using: &random) == .seconds(3600))
        let tight = Backoff(initial: .seconds(10), maximum: .seconds(60), jitter: 0, maximumRetryAfter: .seconds(5))
        #expect(tight.delay(forRetry: 1, retryAfter: .seconds(100), using: &random) == .seconds(10))
        let custom = Backoff(jitter: 0, maximumRetryAfter: .seconds(90))
        #expect(custom.delay(forRetry: 1, retryAfter: .seconds(100), using: &random) == .seconds(90))
    }
}

struct RetryAfterTests {
    @Test(arguments: [
        ("120", RetryAfter.seconds(120)),
        ("0", .seconds(0)),
        (" 30 ", .seconds(30)),
        ("\t5\r\n", .seconds(5)),
        ("Wed, 21 Oct 2015 07:28:00 GMT", .date(Timestamp(secondsSinceEpoch: 1_445_412_480))),
        ("Sun, 06 Nov 1994 08:49:37 GMT", .date(Timestamp(secondsSinceEpoch: 784_111_777))),
        (" Thu, 01 Jan 1970 00:00:00 GMT ", .date(Timestamp(secondsSinceEpoch: 0))),
        ("Thu, 29 Feb 2024 23:59:59 GMT", .date(Timestamp(secondsSinceEpoch: 1_709_251_199))),
    ])
    func headerValuesParse(header: String, expected: RetryAfter) {
        #expect(RetryAfter(headerValue: header) == expected)
    }

    @Test(arguments: [
        "", " ", "-1", "1.5", "abc", "120s", "Wed, 21 Oct 2015 07:28:00 UTC", "Wed, 21 Oct 2015 07:28:00",
        "21 Oct 2015 07:28:00 GMT", "Wed, 32 Oct 2015 07:28:00 GMT", "Wed, 00 Oct 2015 07:28:00 GMT",
        "Wed, 21 Foo 2015 07:28:00 GMT", "Wed, 21 oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 24:00:00 GMT",
        "Wed, 21 Oct 2015 07:60:00 GMT", "Wed, 21 Oct 2015 07:28 GMT", "Wednesday, 21-Oct-15 07:28:00 GMT",
    ])
    func malformedHeaderValuesAreIgnored(header: String) {
        #expect(RetryAfter(headerValue: header) == nil)
    }

    @Test func aDelayIsMeasuredFromNow() {
        let now = referenceTime
        #expect(RetryAfter.seconds(120).delay(from: now) == .seconds(120))
        #expect(RetryAfter.date(now + .seconds(90)).delay(from: now) == .seconds(90))
        #expect(RetryAfter.date(now - .seconds(90)).delay(from: now) == .zero, "a date in the past means now")
    }
}

struct PollScheduleTests {
    private let schedule = PollSchedule()
    private let submittedAt = referenceTime

    @Test func theDefaultsAreThirtySecondsThenFifteenUntilHalfAnHour() {
        #expect(schedule.firstDelay == .seconds(30))
        #expect(schedule.interval == .seconds(15))
        #expect(schedule.deadline == .seconds(1800))
        #expect(schedule.deadline(submittedAt: submittedAt) == submittedAt + .seconds(1800))
    }

    @Test func theFirstPollComesAfterTheFirstDelayButNotAfterTheDeadline() {
        #expect(schedule.firstPoll(submittedAt: submittedAt) == submittedAt + .seconds(30))
        let short = PollSchedule(firstDelay: .seconds(60), deadline: .seconds(45))
        #expect(short.firstPoll(submittedAt: submittedAt) == submittedAt + .seconds(45))
    }

    @Test func laterPollsFollowTheJitteredInterval() {
        let now = submittedAt + .seconds(100)
        for seed in jitterSeeds {
            var random = SplitMix64(seed: seed)
            let next = schedule.nextPoll(now: now, submittedAt: submittedAt, using: &random)
            #expect((13.5...16.5).contains((next - now).secondsDouble))
        }
    }

    @Test func noPollIsScheduledPastTheDeadline() {
        var random = SplitMix64(seed: 3)
        let now = submittedAt + .seconds(1790)
        #expect(schedule.nextPoll(now: now, submittedAt: submittedAt, using: &random) == submittedAt + .seconds(1800))
    }
}

struct WebhookRetryScheduleTests {
    private let schedule = WebhookRetrySchedule()

    @Test func theDefaultDelaysAreTheStandardWebhooksOnes() {
        #expect(schedule.delays == [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400].map { Duration.seconds($0) })
        #expect(schedule.maximumAttempts == 10)
        #expect(schedule.jitter == 0.2)
    }

    @Test func thereIsNoDelayBeforeTheFirstAttemptOrAfterTheLast() {
        var random = SplitMix64(seed: 1)
        #expect(schedule.delay(afterAttempts: 0, retryAfter: nil, overloaded: false, using: &random) == nil)
        #expect(schedule.delay(afterAttempts: 10, retryAfter: nil, overloaded: false, using: &random) == nil)
        #expect(schedule.delay(afterAttempts: 9, retryAfter: nil, overloaded: false, using: &random) != nil)
    }

    @Test(arguments: 1...9)
    func eachDelayIsJitteredByAtMostTwentyPercent(attempts: Int) {
        let base = schedule.delays[attempts - 1].secondsDouble
        for seed in jitterSeeds.prefix(50) {
            var random = SplitMix64(seed: seed)
            let delay = schedule.delay(afterAttempts: attempts, retryAfter: nil, overloaded: false, using: &random)
            let seconds = delay?.secondsDouble ?? -1
            #expect(seconds >= base * 0.8 - 0.001 && seconds <= base * 1.2 + 0.001)
        }
    }

    @Test func theWholeScheduleSpansAboutThreeDays() {
        let total = schedule.delays.reduce(Duration.zero, +)
        #expect(total == .seconds(272_105))
    }
}
