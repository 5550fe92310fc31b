import Testing
import VideoSpoolCore

/// The budget rules, pure: which limit one more generation crosses, until when, the learned
/// estimate, how a job's update settles its ledger entry, and how `usage` adds entries up.
struct BudgetCheckTests {
    /// 2026-11-29T12:00:00Z.
    static let noon = Timestamp(millisecondsSinceEpoch: 1_795_953_600_000)
    /// 2027-01-01T00:00:00Z.
    static let newYear = Timestamp(secondsSinceEpoch: 1_798_761_600)

    static func entry(
        _ id: String,
        at: Timestamp,
        state: SpendEntry.State = .completed,
        usd: Double? = 0.1,
        credits: Double? = nil,
        estimate: Double = 0.5,
        model: String = "m"
    ) -> SpendEntry {
        SpendEntry(
            jobID: JobID(trusted: id),
            model: model,
            resolution: "720p",
            durationSeconds: 5,
            reservedAt: at,
            estimateUSD: estimate,
            state: state,
            usdSpent: usd,
            creditsUsed: credits
        )
    }

    @Test func noLimitMeansNoWindowToCheck() {
        #expect(BudgetSettings().windows(now: Self.noon).isEmpty)
        #expect(!BudgetSettings().hasLimits)
    }

    @Test func theDailyWindowIsTheLast24HoursAndTheMonthIsTheCalendarMonthInUTC() {
        let budget = BudgetSettings(maxUSDPerDay: 5, maxUSDPerMonth: 100, maxGenerationsPerHour: 10)
        let windows = budget.windows(now: Self.noon)
        #expect(windows.map(\.limit) == [.generationsPerHour(10), .usdPerDay(5), .usdPerMonth(100)])
        #expect(windows[0].start == Self.noon - .seconds(3600) + .milliseconds(1))
        #expect(windows[1].start == Self.noon - .seconds(86400) + .milliseconds(1))
        #expect(windows[2].start.iso8601 == "2026-11-01T00:00:00.000Z")
        #expect(windows[2].nextStart?.iso8601 == "2026-12-01T00:00:00.000Z")
        let december = BudgetWindow(limit: .usdPerMonth(1), now: Self.newYear - .milliseconds(1))
        #expect(december.nextStart?.iso8601 == "2027-01-01T00:00:00.000Z", "the year turns")
    }

    @Test func aGenerationThatWouldCrossALimitIsRefusedAndOneThatFitsExactlyIsNot() {
        let budget = BudgetSettings(maxUSDPerDay: 0.3, maxGenerationsPerHour: 3)
        let windows = budget.windows(now: Self.noon)
        // 0.06 five times is a little more than 0.30 in binary; it must still fit.
        let fits = BudgetCheck.crossed(windows, totals: [WindowTotals(usd: 0.06 * 4, generations: 2), WindowTotals(usd: 0.06 * 4, generations: 4)], estimate: 0.06)
        #expect(fits.isEmpty)
        let crossed = BudgetCheck.crossed(windows, totals: [WindowTotals(usd: 0, generations: 3), WindowTotals(usd: 0.25, generations: 5)], estimate: 0.06)
        #expect(crossed.map(\.window.limit) == [.generationsPerHour(3), .usdPerDay(0.3)])
    }

    @Test func aRollingDayReopensWhenTheOldestSpendThatMakesRoomLeavesIt() {
        let window = BudgetWindow(limit: .usdPerDay(1), now: Self.noon)
        let entries: [(at: Timestamp, usd: Double)] = [
            (Self.noon - .seconds(80000), 0.2), (Self.noon - .seconds(50000), 0.5), (Self.noon - .seconds(10), 0.3),
        ]
        // 1.0 used, 0.4 more wanted: 0.2 leaving is not enough, 0.2 + 0.5 is.
        let reached = BudgetCheck.reached(window, totals: WindowTotals(usd: 1.0, generations: 3), estimate: 0.4, entries: entries)
        #expect(reached.limit == .usdPerDay(1))
        #expect(reached.until == Self.noon - .seconds(50000) + .seconds(86400))
        #expect(reached.used == 1.0)
    }

    @Test func theHourlyCountReopensWhenEnoughSubmissionsAreAnHourOld() {
        let window = BudgetWindow(limit: .generationsPerHour(2), now: Self.noon)
        let entries: [(at: Timestamp, usd: Double)] = [(Self.noon - .seconds(3000), 0), (Self.noon - .seconds(100), 0)]
        let reached = BudgetCheck.reached(window, totals: WindowTotals(usd: 0, generations: 2), estimate: 1, entries: entries)
        #expect(reached.until == Self.noon - .seconds(3000) + .seconds(3600))
        #expect("\(reached)".hasPrefix("2 generations per hour (2 submitted) until "))
    }

    @Test func theMonthReopensNextMonthAndALimitBelowOneGenerationOnlyWhenRaised() {
        let month = BudgetWindow(limit: .usdPerMonth(10), now: Self.noon)
        let reached = BudgetCheck.reached(month, totals: WindowTotals(usd: 9.9, generations: 99), estimate: 0.5, entries: [])
        #expect(reached.until?.iso8601 == "2026-12-01T00:00:00.000Z")
        let tiny = BudgetWindow(limit: .usdPerDay(0.1), now: Self.noon)
        let never = BudgetCheck.reached(tiny, totals: WindowTotals(usd: 0, generations: 0), estimate: 0.5, entries: [])
        #expect(never.until == nil)
        #expect("\(never)".hasSuffix("until the limit is raised"))
        let stopped = BudgetWindow(limit: .generationsPerHour(0), now: Self.noon)
        #expect(BudgetCheck.reached(stopped, totals: WindowTotals(usd: 0, generations: 0), estimate: 0, entries: []).until == nil)
    }

    @Test func ofSeveralLimitsReachedTheLongestHoldDecides() {
        let day = BudgetReached(limit: .usdPerDay(1), used: 1, estimateUSD: 0.1, until: Self.noon + .seconds(100))
        let month = BudgetReached(limit: .usdPerMonth(9), used: 9, estimateUSD: 0.1, until: Self.noon + .seconds(9000))
        let never = BudgetReached(limit: .generationsPerHour(0), used: 0, estimateUSD: 0.1, until: nil)
        #expect(BudgetCheck.decisive([day, month]) == month)
        #expect(BudgetCheck.decisive([day, never, month]) == never)
        #expect(BudgetCheck.decisive([]) == nil)
    }

    @Test func theEstimateIsTheDefaultUntilThreeSamplesThenTheHighestRecentCost() {
        #expect(SpendEstimate.estimate(samples: [], default: 0.5) == 0.5)
        #expect(SpendEstimate.estimate(samples: [0.06, 0.06], default: 0.5) == 0.5)
        #expect(SpendEstimate.estimate(samples: [0.06, 0.08, 0.06], default: 0.5) == 0.08)
        #expect(SpendEstimate.estimate(samples: [0.06, .nan, -1, 0.07], default: 0.5) == 0.5, "unusable samples do not count")
    }

    @Test func usdSpentWinsAndCreditsAreConvertedOtherwise() {
        #expect(SpendEntry.reportedUSD(usdSpent: 0.07, creditsUsed: 120_000, creditsPerUSD: 2_000_000) == 0.07)
        #expect(SpendEntry.reportedUSD(usdSpent: nil, creditsUsed: 120_000, creditsPerUSD: 2_000_000) == 0.06)
        #expect(SpendEntry.reportedUSD(usdSpent: nil, creditsUsed: nil, creditsPerUSD: 2_000_000) == nil)
        let inFlight = Self.entry("a", at: Self.noon, state: .reserved, usd: nil, estimate: 0.4)
        #expect(inFlight.effectiveUSD(creditsPerUSD: 1) == 0.4, "in flight counts at its estimate")
        #expect(Self.entry("b", at: Self.noon, state: .void).effectiveUSD(creditsPerUSD: 1) == 0)
        #expect(Self.entry("c", at: Self.noon, state: .failed, usd: nil).effectiveUSD(creditsPerUSD: 1) == 0)
    }

    @Test func aJobsUpdateSettlesItsEntry() throws {
        var job = Job(
            id: JobID(trusted: "job-1"),
            phase: .submitting,
            model: "m",
            callbackURLs: [],
            metadata: nil,
            acceptedAt: Self.noon,
            sourceName: "1.json",
            parameters: GenerationParameters()
        )
        #expect(SpendSettlement.implied(by: job) == nil)
        job.phase = .queued
        #expect(SpendSettlement.implied(by: job) == .requeued(submittedAt: nil))
        job.phase = .storing
        job.usage = Usage(creditsUsed: JSONNumber(120_000), usdSpent: JSONNumber(0.06))
        #expect(SpendSettlement.implied(by: job) == .settle(.completed, usdSpent: 0.06, creditsUsed: 120_000))
        job.phase = .canceled
        job.usage = nil
        #expect(SpendSettlement.implied(by: job) == .settle(.failed, usdSpent: nil, creditsUsed: nil))
    }

    @Test func usageAddsUpByModelDayAndHour() {
        let entries = [
            Self.entry("a", at: Self.noon, usd: 0.1, model: "m1"),
            Self.entry("b", at: Self.noon + .seconds(3600), usd: nil, credits: 200_000, model: "m2"),
            Self.entry("c", at: Self.noon + .seconds(86400), state: .failed, usd: nil, model: "m1"),
            Self.entry("d", at: Self.noon + .seconds(86400), state: .reserved, usd: nil, estimate: 0.5, model: "m1"),
            Self.entry("e", at: Self.noon, state: .void, usd: nil, model: "m1"),
        ]
        let total = UsageReport(entries: entries, by: nil, creditsPerUSD: 2_000_000)
        #expect(total.rows.isEmpty)
        #expect(total.total.generations == 4, "the void reservation never reached the API")
        #expect(total.total.completed == 2 && total.total.failed == 1 && total.total.inFlight == 1)
        #expect(abs(total.total.usdSpent - 0.2) < 1e-12)
        #expect(total.total.creditsUsed == 200_000)
        #expect(total.total.inFlightEstimateUSD == 0.5)
        let byModel = UsageReport(entries: entries, by: .model, creditsPerUSD: 2_000_000)
        #expect(byModel.rows.map(\.key) == ["m1", "m2"])
        #expect(byModel.rows.map(\.generations) == [3, 1])
        let byDay = UsageReport(entries: entries, by: .day, creditsPerUSD: 2_000_000)
        #expect(byDay.rows.map(\.key) == ["2026-11-29", "2026-11-30"])
        let byHour = UsageReport(entries: entries, by: .hour, creditsPerUSD: 2_000_000)
        #expect(byHour.rows.map(\.key) == ["2026-11-29T12:00Z", "2026-11-29T13:00Z", "2026-11-30T12:00Z"])
    }

    @Test func limitsReadAsOperatorsWriteThem() {
        #expect("\(BudgetLimit.usdPerDay(5))" == "$5.00 per 24 hours")
        #expect("\(BudgetLimit.usdPerMonth(100.5))" == "$100.50 per month (UTC)")
        #expect(BudgetLimit.dollars(0.006) == "$0.006")
        #expect(BudgetLimit.usdPerDay(1).key == "budget.max_usd_per_day")
    }
}
