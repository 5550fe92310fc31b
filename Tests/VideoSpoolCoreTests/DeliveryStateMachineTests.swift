import Testing
import VideoSpoolCore

private let now = referenceTime
private let standardDelaySeconds: [Double] = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]

private func makeDelivery(url: String = "https://hooks.example.com/video?token=s3cr3t") -> Delivery {
    Delivery(id: Delivery.ID(eventID: "msg_01", index: 0), jobID: JobID("job-1")!, url: url, nextAttemptAt: now)
}

private func status(_ code: Int, retryAfter: RetryAfter? = nil, location: String? = nil)
    -> DeliveryStateMachine.AttemptResult
{
    .response(statusCode: code, retryAfter: retryAfter, location: location)
}

private func secondsUntil(_ action: DeliveryStateMachine.Action, from start: Timestamp = now) -> Double? {
    guard case .retry(let at) = action else { return nil }
    return (at - start).secondsDouble
}

struct DeliveryStateMachineTests {
    private let machine = DeliveryStateMachine(schedule: WebhookRetrySchedule())

    @Test(arguments: [200, 201, 202, 204, 299])
    func a2xxAnswerDelivers(code: Int) {
        var random = SplitMix64(seed: 1)
        var delivery = makeDelivery()
        delivery.lastError = "HTTP 500"
        let action = machine.attemptFinished(&delivery, result: status(code), now: now, using: &random)
        #expect(action == .delivered)
        #expect(delivery.state == .delivered)
        #expect(delivery.deliveredAt == now)
        #expect(delivery.lastAttemptAt == now)
        #expect(delivery.attempts == 1)
        #expect(delivery.lastStatusCode == code)
        #expect(delivery.lastError == nil)
        #expect(delivery.nextAttemptAt == nil)
        #expect(delivery.state.isFinal)
    }

    @Test func aServerErrorIsRetriedAfterTheFirstDelay() {
        for seed in jitterSeeds {
            var random = SplitMix64(seed: seed)
            var delivery = makeDelivery()
            let action = machine.attemptFinished(&delivery, result: status(500), now: now, using: &random)
            guard case .retry(let at) = action else {
                Issue.record("expected .retry, got \(action)")
                return
            }
            #expect((4.0...6.0).contains((at - now).secondsDouble), "5 s ± 20 %, got \(at - now)")
            #expect(delivery.nextAttemptAt == at)
            #expect(delivery.state == .pending)
            #expect(!delivery.state.isFinal)
            #expect(delivery.attempts == 1)
            #expect(delivery.lastStatusCode == 500)
            #expect(delivery.lastError == "HTTP 500")
        }
    }

    @Test(arguments: Array(jitterSeeds.prefix(20)))
    func theNthRetryUsesTheNthDelayAndTheTenthFailureStops(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var delivery = makeDelivery()
        var clock = now
        for (index, base) in standardDelaySeconds.enumerated() {
            let action = machine.attemptFinished(&delivery, result: status(503), now: clock, using: &random)
            let waited = secondsUntil(action, from: clock)
            #expect(delivery.attempts == index + 1)
            #expect(
                waited.map { $0 >= base * 0.8 && $0 <= base * 1.2 } == true,
                "retry \(index + 1): expected \(base) s ± 20 %, got \(String(describing: waited))"
            )
            guard case .retry(let at) = action else { return }
            clock = at
        }
        let last = machine.attemptFinished(&delivery, result: status(503), now: clock, using: &random)
        #expect(last == .stopped(.failed))
        #expect(delivery.state == .failed)
        #expect(delivery.attempts == 10)
        #expect(delivery.nextAttemptAt == nil)
        #expect(delivery.lastError == "HTTP 503")
    }

    @Test func aTransportFailureCountsTowardsTheSchedule() {
        var random = SplitMix64(seed: 2)
        var delivery = makeDelivery()
        delivery.attempts = 9
        let action = machine.attemptFinished(
            &delivery,
            result: .transportFailure(reason: "connection reset", timedOut: false),
            now: now,
            using: &random
        )
        #expect(action == .stopped(.failed))
        #expect(delivery.lastError == "connection reset")
    }

    @Test func goneStopsForGood() {
        var random = SplitMix64(seed: 3)
        var delivery = makeDelivery()
        let action = machine.attemptFinished(&delivery, result: status(410), now: now, using: &random)
        #expect(action == .stopped(.gone))
        #expect(delivery.state == .gone)
        #expect(delivery.nextAttemptAt == nil)
        #expect(delivery.lastStatusCode == 410)
        #expect(delivery.lastError?.contains("410") == true)
    }

    @Test(arguments: [400, 401, 403, 404, 405, 413, 422, 501])
    func otherErrorAnswersAreRetried(code: Int) {
        var random = SplitMix64(seed: 4)
        var delivery = makeDelivery()
        let action = machine.attemptFinished(&delivery, result: status(code), now: now, using: &random)
        #expect(secondsUntil(action).map { (4.0...6.0).contains($0) } == true)
        #expect(delivery.lastError == "HTTP \(code)")
    }

    @Test(arguments: [301, 302, 303, 307, 308])
    func aRedirectIsAFailureAndIsNotFollowed(code: Int) throws {
        var random = SplitMix64(seed: 5)
        var delivery = makeDelivery()
        let action = machine.attemptFinished(
            &delivery,
            result: status(code, location: "https://new.example.com/hook?token=leaked"),
            now: now,
            using: &random
        )
        #expect(secondsUntil(action).map { (4.0...6.0).contains($0) } == true)
        #expect(delivery.state == .pending)
        #expect(delivery.lastStatusCode == code)
        let error = try #require(delivery.lastError)
        #expect(error.contains("redirect"))
        #expect(error.contains("not followed"))
        #expect(error.contains("https://new.example.com/hook"))
        #expect(!error.contains("leaked"), "the Location's query is redacted")
    }

    @Test func aRedirectWithoutALocationIsStillExplained() {
        var random = SplitMix64(seed: 5)
        var delivery = makeDelivery()
        _ = machine.attemptFinished(&delivery, result: status(307), now: now, using: &random)
        #expect(delivery.lastError?.contains("redirect") == true)
    }

    @Test func tooManyRequestsWaitsAtLeastAMinute() {
        for seed in jitterSeeds.prefix(50) {
            var random = SplitMix64(seed: seed)
            var delivery = makeDelivery()
            let action = machine.attemptFinished(&delivery, result: status(429), now: now, using: &random)
            let waited = secondsUntil(action) ?? 0
            #expect(waited >= 60)
            #expect(waited <= 60.001)
        }
    }

    @Test func aTimeoutWaitsAtLeastAMinute() {
        for seed in jitterSeeds.prefix(50) {
            var random = SplitMix64(seed: seed)
            var delivery = makeDelivery()
            let action = machine.attemptFinished(
                &delivery,
                result: .transportFailure(reason: "timed out after 15 s", timedOut: true),
                now: now,
                using: &random
            )
            #expect((secondsUntil(action) ?? 0) >= 60)
            #expect(delivery.lastStatusCode == nil)
            #expect(delivery.lastError == "timed out after 15 s")
        }
    }

    @Test func aNonTimeoutTransportFailureUsesTheNormalDelay() {
        var random = SplitMix64(seed: 6)
        var delivery = makeDelivery()
        let action = machine.attemptFinished(
            &delivery,
            result: .transportFailure(reason: "connection refused", timedOut: false),
            now: now,
            using: &random
        )
        #expect(secondsUntil(action).map { (4.0...6.0).contains($0) } == true)
    }

    @Test func theOverloadFloorDoesNotShortenLongerDelays() {
        var random = SplitMix64(seed: 7)
        var delivery = makeDelivery()
        delivery.attempts = 1
        let action = machine.attemptFinished(&delivery, result: status(429), now: now, using: &random)
        #expect(secondsUntil(action).map { (240.0...360.0).contains($0) } == true)
    }

    @Test func aRetryAfterIsHonoured() {
        var random = SplitMix64(seed: 8)
        var delivery = makeDelivery()
        let action = machine.attemptFinished(&delivery, result: status(503, retryAfter: .seconds(600)), now: now, using: &random)
        #expect(action == .retry(at: now + .seconds(600)))
    }

    @Test func aRetryAfterDateIsHonoured() {
        var random = SplitMix64(seed: 8)
        var delivery = makeDelivery()
        let action = machine.attemptFinished(
            &delivery,
            result: status(429, retryAfter: .date(now + .seconds(900))),
            now: now,
            using: &random
        )
        #expect(action == .retry(at: now + .seconds(900)))
    }

    @Test func aRetryAfterIsCappedAtTheScheduledDelayPlusAnHour() {
        var random = SplitMix64(seed: 9)
        var delivery = makeDelivery()
        let action = machine.attemptFinished(
            &delivery,
            result: status(503, retryAfter: .seconds(1_000_000)),
            now: now,
            using: &random
        )
        #expect(action == .retry(at: now + .seconds(5 + 3600)))

        var later = makeDelivery()
        later.attempts = 3  // the next delay is the 4th: 2 h
        let capped = machine.attemptFinished(
            &later,
            result: status(503, retryAfter: .seconds(1_000_000)),
            now: now,
            using: &random
        )
        #expect(capped == .retry(at: now + .seconds(7200 + 3600)))
    }

    @Test func aShortRetryAfterDoesNotShortenTheSchedule() {
        var random = SplitMix64(seed: 10)
        var delivery = makeDelivery()
        delivery.attempts = 2
        let action = machine.attemptFinished(&delivery, result: status(503, retryAfter: .seconds(1)), now: now, using: &random)
        #expect(secondsUntil(action).map { (1440.0...2160.0).contains($0) } == true)
    }

    @Test func aRefusedAddressStopsWithoutRetry() {
        var random = SplitMix64(seed: 11)
        var delivery = makeDelivery()
        let action = machine.attemptFinished(
            &delivery,
            result: .refused(reason: "10.0.0.1 is a private address"),
            now: now,
            using: &random
        )
        #expect(action == .stopped(.refused))
        #expect(delivery.state == .refused)
        #expect(delivery.nextAttemptAt == nil)
        #expect(delivery.lastError == "10.0.0.1 is a private address")
    }

    @Test func aDeliveryCanBeRefusedBeforeAnyAttempt() {
        var delivery = makeDelivery(url: "not a url")
        let action = machine.refuse(&delivery, reason: "the URL does not parse")
        #expect(action == .stopped(.refused))
        #expect(delivery.state == .refused)
        #expect(delivery.attempts == 0)
        #expect(delivery.nextAttemptAt == nil)
        #expect(delivery.lastError == "the URL does not parse")
    }

    @Test func aShorterScheduleStopsSooner() {
        var random = SplitMix64(seed: 12)
        let short = DeliveryStateMachine(schedule: WebhookRetrySchedule(delays: [.seconds(1)], jitter: 0))
        var delivery = makeDelivery()
        #expect(short.attemptFinished(&delivery, result: status(500), now: now, using: &random) == .retry(at: now + .seconds(1)))
        #expect(short.attemptFinished(&delivery, result: status(500), now: now, using: &random) == .stopped(.failed))
    }

    @Test func onlyPendingIsNotFinal() {
        #expect(Delivery.State.allCases.filter { !$0.isFinal } == [.pending])
    }
}
