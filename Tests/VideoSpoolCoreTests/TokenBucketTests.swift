import Testing
import VideoSpoolCore

struct TokenBucketTests {
    private let start = referenceTime

    @Test func aFullBucketAllowsABurstOfOneSecondsWorth() {
        var bucket = TokenBucket(ratePerSecond: 10, now: start)
        let granted = (0..<15).filter { _ in bucket.take(now: start) }.count
        #expect(granted == 10)
    }

    @Test func tokensComeBackAtTheConfiguredRate() {
        var bucket = TokenBucket(ratePerSecond: 10, now: start)
        while bucket.take(now: start) {}
        #expect(bucket.nextToken(now: start) == start + .milliseconds(100))
        #expect(bucket.take(now: start + .milliseconds(99)) == false)
        #expect(bucket.take(now: start + .milliseconds(100)) == true)
        // Half a second later, five more.
        let later = start + .milliseconds(600)
        #expect((0..<10).filter { _ in bucket.take(now: later) }.count == 5)
    }

    @Test func anIdleBucketSavesNoMoreThanItsCapacity() {
        var bucket = TokenBucket(ratePerSecond: 4, now: start)
        let muchLater = start + .seconds(3600)
        #expect((0..<100).filter { _ in bucket.take(now: muchLater) }.count == 4)
    }

    @Test func aSlowRateStillHasOneToken() {
        var bucket = TokenBucket(ratePerSecond: 0.5, now: start)
        #expect(bucket.capacity == 1)
        #expect(bucket.take(now: start) == true)
        #expect(bucket.take(now: start) == false)
        #expect(bucket.nextToken(now: start) == start + .seconds(2))
    }

    @Test func aReserveIsLeftForOthers() {
        var bucket = TokenBucket(ratePerSecond: 10, now: start)
        let granted = (0..<15).filter { _ in bucket.take(now: start, keeping: 2) }.count
        #expect(granted == 8)
        #expect(bucket.take(now: start) == true)
        #expect(bucket.nextToken(now: start, keeping: 2) == start + .milliseconds(200))
    }

    @Test func theNextTokenTimeIsExact() {
        // A high rate: tokens arrive several per millisecond.
        var bucket = TokenBucket(ratePerSecond: 6000, now: start)
        while bucket.take(now: start) {}
        let next = bucket.nextToken(now: start)
        #expect(next == start + .milliseconds(1))
        #expect((0..<10).filter { _ in bucket.take(now: next) }.count == 6)
    }

    @Test func aClockSteppedBackAddsNoTokens() {
        var bucket = TokenBucket(ratePerSecond: 2, now: start)
        #expect((0..<2).filter { _ in bucket.take(now: start) }.count == 2)
        #expect(bucket.take(now: start - .seconds(60)) == false)
        // The refill counts from the stepped-back time, not from the old one.
        #expect(bucket.take(now: start - .seconds(60) + .milliseconds(500)) == true)
    }

    @Test func aTokenGivenBackCanBeTakenAgain() {
        var bucket = TokenBucket(ratePerSecond: 1, now: start)
        #expect(bucket.take(now: start) == true)
        bucket.giveBack(now: start)
        #expect(bucket.take(now: start) == true)
    }

    @Test func aNewRateKeepsTheSavedTokensUpToTheNewCapacity() {
        var bucket = TokenBucket(ratePerSecond: 100, now: start)
        bucket.setRate(5, now: start)
        #expect((0..<100).filter { _ in bucket.take(now: start) }.count == 5)
        bucket.setRate(50, now: start)
        #expect(bucket.nextToken(now: start) == start + .milliseconds(20))
    }
}
