import Logging
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolTesting

/// Budgets as the submission service applies them: a limit reached mid-burst stops submissions with
/// every other job still queued (none failed), says so in the status line and the log once, and
/// submissions resume when the limit is raised. (The scripted API reports $0.06 a generation.)
@Suite(.timeLimit(.minutes(1)))
struct BudgetSubmissionTests {
    static func policy(maxUSDPerDay: Double?) -> PipelinePolicy {
        var policy = PipelineHarness.fastPolicy
        policy.budget = BudgetSettings(maxUSDPerDay: maxUSDPerDay, defaultEstimateUSD: 0.06)
        return policy
    }

    @Test func aDailyLimitStopsABurstMidwayAndARaisedLimitLetsTheRestThrough() async throws {
        let log = LogRecording()
        let harness = PipelineHarness(policy: Self.policy(maxUSDPerDay: 0.3), logger: log.logger())
        try await harness.run { harness in
            for index in 0..<12 {
                harness.spool.drop("\(index).json", bytes: TestRequests.seedance(jobID: "burst-\(index)"))
            }
            // Room for five generations at $0.06.
            _ = try await harness.transport.attempts.collect(5)
            try await log.wait(for: "the budget to be reached") { entries in
                entries.contains { $0["event"] == "budget.reached" }
            }
            try await eventually("the status line to say so") { harness.pipeline.status.budgetReached != nil }
            let status = harness.pipeline.status
            #expect(status.description.contains("budget reached: $0.30 per 24 hours"), "\(status)")
            #expect(status.queued == 7 && status.failed == 0, "\(status)")
            #expect(harness.api.submitCount == 5)
            #expect(harness.pipeline.submissions.budgetReached?.limit == .usdPerDay(0.3))
            let jobs = harness.store.allJobs
            #expect(jobs.filter { $0.phase == .queued }.count == 7)
            #expect(jobs.filter { $0.phase == .failed }.isEmpty)

            // A reload with a higher limit: the held queue goes at once.
            harness.pipeline.context.updatePolicy(Self.policy(maxUSDPerDay: 1.0))
            harness.pipeline.submissions.budgetChanged()
            _ = try await harness.transport.attempts.collect(7)
        }
        #expect(harness.api.submitCount == 12)
        #expect(harness.store.allJobs.allSatisfy { $0.phase == .completed })
        #expect(harness.pipeline.status.budgetReached == nil)
        let events = log.entries.compactMap { $0["event"] }
        #expect(events.filter { $0 == "budget.reached" }.count == 1, "logged once, not at every retry")
        #expect(events.filter { $0 == "budget.resumed" }.count == 1)
        let entries = harness.store.spendEntries
        #expect(entries.count == 12 && entries.allSatisfy { $0.state == .completed })
        let reached = try #require(log.entries.first { $0["event"] == "budget.reached" })
        #expect(reached["budget.limit"] == "budget.max_usd_per_day")
    }

    @Test func withoutALimitNothingIsHeldAndEverySubmissionIsInTheLedger() async throws {
        let harness = PipelineHarness(policy: Self.policy(maxUSDPerDay: nil))
        try await harness.run { harness in
            for index in 0..<6 {
                harness.spool.drop("\(index).json", bytes: TestRequests.seedance(jobID: "free-\(index)"))
            }
            _ = try await harness.transport.attempts.collect(6)
        }
        #expect(harness.pipeline.status.budgetReached == nil)
        let entries = harness.store.spendEntries
        #expect(entries.count == 6)
        #expect(entries.allSatisfy { $0.state == .completed && $0.usdSpent == 0.06 && $0.creditsUsed == 120_000 })
    }

    /// The system's time, which a test can move forward: deadlines are slept in short steps, so a
    /// jump makes whatever became due run at once.
    final class MovableTime: TimeSource {
        private let offset = Mutex(Duration.zero)
        private let system = SystemTimeSource()

        func now() -> Timestamp { system.now() + offset.withLock { $0 } }
        func advance(_ duration: Duration) { offset.withLock { $0 += duration } }

        func sleep(until deadline: Timestamp) async throws {
            let remaining = deadline - now()
            guard remaining > .zero else { return }
            try await Task.sleep(for: min(remaining, .milliseconds(20)))
        }
    }

    @Test func anHourlyLimitResumesByItselfWhenTheWindowMovesOn() async throws {
        let log = LogRecording()
        let time = MovableTime()
        var policy = PipelineHarness.fastPolicy
        policy.budget = BudgetSettings(maxGenerationsPerHour: 2)
        let harness = PipelineHarness(policy: policy, time: time, logger: log.logger())
        let started = time.now()
        try await harness.run { harness in
            for index in 0..<4 {
                harness.spool.drop("\(index).json", bytes: TestRequests.seedance(jobID: "hourly-\(index)"))
            }
            _ = try await harness.transport.attempts.collect(2)
            try await eventually("the hourly limit to hold the rest") { harness.pipeline.submissions.budgetReached != nil }
            let reached = try #require(harness.pipeline.submissions.budgetReached)
            #expect(reached.limit == .generationsPerHour(2))
            let until = try #require(reached.until)
            #expect(until >= started + .seconds(3600) && until <= time.now() + .seconds(3600), "an hour after the first")
            #expect(harness.api.submitCount == 2)
            #expect(harness.pipeline.status.queued == 2)

            // Nothing changes until the hour has passed; then the held jobs go by themselves.
            time.advance(.seconds(3600))
            _ = try await harness.transport.attempts.collect(2)
        }
        #expect(harness.api.submitCount == 4)
        #expect(harness.store.allJobs.allSatisfy { $0.phase == .completed })
        #expect(harness.pipeline.submissions.budgetReached == nil)
        let events = log.entries.compactMap { $0["event"] }
        #expect(events.filter { $0 == "budget.reached" }.count == 1)
        #expect(events.filter { $0 == "budget.resumed" }.count == 1)
    }
}
