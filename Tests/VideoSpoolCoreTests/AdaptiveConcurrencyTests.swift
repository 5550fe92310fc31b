import Testing
import VideoSpoolCore

struct AdaptiveConcurrencyTests {
    private let start = referenceTime

    @Test func aRateLimitHalvesTheLimitButNeverBelowOne() {
        var concurrency = AdaptiveConcurrency(maximum: 8)
        var now = start
        var limits: [Int] = []
        for _ in 0..<5 {
            _ = concurrency.rateLimited(sentAt: now, now: now)
            limits.append(concurrency.limit)
            now = now + .seconds(2)
        }
        #expect(limits == [4, 2, 1, 1, 1])
        #expect(concurrency.isReduced)
    }

    @Test func oneBurstOf429sCountsOnce() {
        var concurrency = AdaptiveConcurrency(maximum: 16)
        // Sixteen requests went out together; all come back 429.
        let sent = start
        let first = concurrency.rateLimited(sentAt: sent, now: start + .milliseconds(50))
        #expect(first == .decreased(from: 16, to: 8))
        for offset in 51..<66 {
            // Sent before the decrease.
            #expect(concurrency.rateLimited(sentAt: sent, now: start + .milliseconds(Int64(offset))) == nil)
        }
        // Even after the cool-down, a request sent before the decrease says nothing new.
        #expect(concurrency.rateLimited(sentAt: sent, now: start + .seconds(5)) == nil)
        #expect(concurrency.limit == 8)
    }

    @Test func a429WithinTheCoolDownIsNotCountedEvenIfSentAfterTheDecrease() {
        var concurrency = AdaptiveConcurrency(maximum: 16, configuration: .init(coolDown: .seconds(1)))
        _ = concurrency.rateLimited(sentAt: start, now: start)
        #expect(concurrency.rateLimited(sentAt: start + .milliseconds(10), now: start + .milliseconds(900)) == nil)
        #expect(
            concurrency.rateLimited(sentAt: start + .milliseconds(10), now: start + .milliseconds(1000))
                == .decreased(from: 8, to: 4)
        )
    }

    @Test func successesRaiseTheLimitByOneAfterAsManyAsTheLimitAndSlowlyNearTheLastRefusal() {
        var concurrency = AdaptiveConcurrency(maximum: 8)
        _ = concurrency.rateLimited(sentAt: start, now: start)
        #expect(concurrency.limit == 4)
        var changes: [AdaptiveConcurrency.Change] = []
        var successes = 0
        while concurrency.isReduced {
            successes += 1
            if let change = concurrency.succeeded() { changes.append(change) }
        }
        #expect(changes == [.increased(from: 4, to: 5), .increased(from: 5, to: 6), .increased(from: 6, to: 7), .increased(from: 7, to: 8)])
        // 7 → 8 is the step back to the limit that drew the 429: four times the usual run.
        #expect(successes == 4 + 5 + 6 + 4 * 7)
        #expect(concurrency.succeeded() == nil, "never above the maximum")
        #expect(concurrency.limit == 8)
    }

    @Test func a429BreaksTheRunOfSuccesses() {
        var concurrency = AdaptiveConcurrency(maximum: 8)
        _ = concurrency.rateLimited(sentAt: start, now: start)
        for _ in 0..<3 { #expect(concurrency.succeeded() == nil) }
        // Sent before the decrease, so it does not lower the limit, but the run starts again.
        _ = concurrency.rateLimited(sentAt: start, now: start + .milliseconds(10))
        for _ in 0..<3 { #expect(concurrency.succeeded() == nil) }
        #expect(concurrency.succeeded() == .increased(from: 4, to: 5))
    }

    @Test func onlyTheStepToTheLastRefusedLimitIsSlow() {
        var concurrency = AdaptiveConcurrency(maximum: 16)
        _ = concurrency.rateLimited(sentAt: start, now: start)  // 16 → 8
        _ = concurrency.rateLimited(sentAt: start + .seconds(1), now: start + .seconds(1))  // 8 → 4, refused at 8
        var runs: [Int] = []
        var successes = 0
        while concurrency.isReduced {
            successes += 1
            if concurrency.succeeded() != nil {
                runs.append(successes)
                successes = 0
            }
        }
        #expect(runs == [4, 5, 6, 28, 8, 9, 10, 11, 12, 13, 14, 15])
    }

    @Test func anUnreducedLimitFollowsANewMaximum() {
        var concurrency = AdaptiveConcurrency(maximum: 8)
        #expect(concurrency.setMaximum(20) == .increased(from: 8, to: 20))
        #expect(concurrency.setMaximum(3) == .decreased(from: 20, to: 3))
        #expect(concurrency.limit == 3 && !concurrency.isReduced)
    }

    @Test func aReducedLimitStaysReducedUnderAHigherMaximum() {
        var concurrency = AdaptiveConcurrency(maximum: 8)
        _ = concurrency.rateLimited(sentAt: start, now: start)
        #expect(concurrency.setMaximum(32) == nil)
        #expect(concurrency.limit == 4 && concurrency.maximum == 32)
        #expect(concurrency.setMaximum(2) == .decreased(from: 4, to: 2))
        #expect(!concurrency.isReduced)
    }
}
