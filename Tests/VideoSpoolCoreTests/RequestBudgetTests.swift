import Testing
import VideoSpoolCore

struct RequestBudgetTests {
    private let start = referenceTime

    private func rateLimited(retryAfterSeconds: Int64? = nil) -> APIExchange {
        .response(APIResponse(statusCode: 429, retryAfter: retryAfterSeconds.map { .seconds($0) }))
    }

    @Test func requestsBeyondTheRateWaitForTheNextToken() {
        var budget = RequestBudget(requestsPerSecond: 2, maximumConcurrency: 8, now: start)
        #expect(budget.admit(.poll, now: start) == .granted)
        #expect(budget.admit(.poll, now: start) == .granted)
        #expect(budget.admit(.poll, now: start) == .wait(until: start + .milliseconds(500)))
        #expect(budget.admit(.poll, now: start + .milliseconds(500)) == .granted)
    }

    @Test func submissionsLeaveTheLastFifthOfTheBurstToPolls() {
        var budget = RequestBudget(requestsPerSecond: 11, maximumConcurrency: 8, now: start)
        let submissions = (0..<20).filter { _ in budget.admit(.submission, now: start) == .granted }.count
        #expect(submissions == 9)
        let polls = (0..<20).filter { _ in budget.admit(.poll, now: start) == .granted }.count
        #expect(polls == 2)
    }

    @Test func polledToTheLimitSubmissionsWait() {
        var budget = RequestBudget(requestsPerSecond: 10, maximumConcurrency: 8, now: start)
        var now = start
        var submissions = 0
        // Polls take every token as it arrives: submissions never reach above the reserve.
        for _ in 0..<100 {
            now = now + .milliseconds(100)
            while budget.admit(.poll, now: now) == .granted {}
            if budget.admit(.submission, now: now) == .granted { submissions += 1 }
        }
        #expect(submissions == 0)
    }

    @Test func a429WithRetryAfterHoldsEveryKindOfRequest() {
        var budget = RequestBudget(requestsPerSecond: 100, maximumConcurrency: 8, now: start)
        let effects = budget.requestFinished(
            RequestBudget.Outcome(rateLimited(retryAfterSeconds: 3), now: start),
            sentAt: start,
            now: start
        )
        #expect(effects.hold == .began(until: start + .seconds(3)))
        #expect(effects.concurrency == .decreased(from: 8, to: 4))
        #expect(budget.admit(.poll, now: start + .seconds(1)) == .wait(until: start + .seconds(3)))
        #expect(budget.admit(.submission, now: start + .seconds(2)) == .wait(until: start + .seconds(3)))
        #expect(budget.admit(.poll, now: start + .seconds(3)) == .granted)
        #expect(budget.heldUntil == nil)
    }

    @Test func aLaterRetryAfterExtendsTheHoldAndAnEarlierOneDoesNotShortenIt() {
        var budget = RequestBudget(requestsPerSecond: 100, maximumConcurrency: 8, now: start)
        _ = budget.requestFinished(.rateLimited(retryAfter: .seconds(10)), sentAt: start, now: start)
        let shorter = budget.requestFinished(.rateLimited(retryAfter: .seconds(1)), sentAt: start, now: start)
        #expect(shorter.hold == nil)
        let longer = budget.requestFinished(.rateLimited(retryAfter: .seconds(20)), sentAt: start, now: start)
        #expect(longer.hold == .extended(until: start + .seconds(20)))
    }

    @Test func anAbsurdRetryAfterHoldsOnlyFiveMinutes() {
        var budget = RequestBudget(requestsPerSecond: 100, maximumConcurrency: 8, now: start)
        let effects = budget.requestFinished(.rateLimited(retryAfter: .seconds(86400)), sentAt: start, now: start)
        #expect(effects.hold == .began(until: start + .seconds(300)))
    }

    @Test func a429WithoutRetryAfterHoldsNothing() {
        var budget = RequestBudget(requestsPerSecond: 100, maximumConcurrency: 8, now: start)
        let effects = budget.requestFinished(
            RequestBudget.Outcome(rateLimited(), now: start),
            sentAt: start,
            now: start
        )
        #expect(effects.hold == nil)
        #expect(budget.admit(.poll, now: start) == .granted)
    }

    @Test(arguments: [
        (APIExchange.response(APIResponse(statusCode: 200)), RequestBudget.Outcome.answered),
        (.response(APIResponse(statusCode: 404)), .answered),
        (.response(APIResponse(statusCode: 429)), .rateLimited(retryAfter: nil)),
        (.response(APIResponse(statusCode: 503)), .inconclusive),
        (.notSent(reason: "refused"), .inconclusive),
        (.outcomeUnknown(reason: "timeout"), .inconclusive),
    ])
    func exchangesAreClassified(exchange: APIExchange, outcome: RequestBudget.Outcome) {
        #expect(RequestBudget.Outcome(exchange, now: start) == outcome)
    }

    @Test func successesRestoreTheConcurrencyAndServerErrorsDoNot() {
        var budget = RequestBudget(requestsPerSecond: 100, maximumConcurrency: 2, now: start)
        _ = budget.requestFinished(.rateLimited(retryAfter: nil), sentAt: start, now: start)
        #expect(budget.concurrency.limit == 1)
        #expect(budget.requestFinished(.inconclusive, sentAt: start, now: start).concurrency == nil)
        // Back to the limit that drew the 429: four successes instead of one.
        for _ in 0..<3 { #expect(budget.requestFinished(.answered, sentAt: start, now: start).concurrency == nil) }
        #expect(budget.requestFinished(.answered, sentAt: start, now: start).concurrency == .increased(from: 1, to: 2))
    }

    @Test func aReloadChangesTheRateAndTheMaximum() {
        var budget = RequestBudget(requestsPerSecond: 1, maximumConcurrency: 8, now: start)
        #expect(budget.admit(.poll, now: start) == .granted)
        #expect(budget.reconfigure(requestsPerSecond: 10, maximumConcurrency: 4, now: start) == .decreased(from: 8, to: 4))
        #expect(budget.requestsPerSecond == 10)
        #expect(budget.admit(.poll, now: start) == .wait(until: start + .milliseconds(100)))
    }
}
