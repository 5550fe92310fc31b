import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolPostgres
import VideoSpoolStore
import VideoSpoolTesting

/// The spend ledger and the budget check, the same on SQLite, PostgreSQL and in memory: entries
/// settle with their jobs, outlive pruning, teach the estimate, and a reservation that would cross
/// a limit fails its whole commit (the intent with it).
@Suite(.timeLimit(.minutes(5)), postgresAvailable)
struct SpendLedgerTests {
    static let budget = BudgetSettings(defaultEstimateUSD: 0.25)

    static func reservation(_ job: Job, at offset: Duration = .zero, budget: BudgetSettings = budget) -> SpendReservation {
        SpendReservation(job: job, at: referenceTime + offset, budget: budget)
    }

    /// A job that completed upstream, as the poller leaves it.
    static func finished(_ job: Job, usd: String?, credits: String?) throws -> Job {
        var done = try completed(submitting(job))
        done.usage = Usage(creditsUsed: try credits.map(number), usdSpent: try usd.map(number))
        return done
    }

    @Test(arguments: StoreBackend.allCases)
    func entriesSettleWithTheirJobsAndOutlivePruning(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let kept = try makeJob("job-kept")
            let creditsOnly = try makeJob("job-credits")
            let broken = try makeJob("job-broken")
            let refused = try makeJob("job-refused")
            for job in [kept, creditsOnly, broken, refused] {
                try await store.commit([insert(job)])
                try await store.commit([.updateJob(submitting(job)), .reserveSpend(Self.reservation(job))])
            }
            let reserved = try await store.store.spendEntries(since: referenceTime)
            #expect(reserved.map(\.state) == [.reserved, .reserved, .reserved, .reserved])
            #expect(reserved.allSatisfy { $0.estimateUSD == 0.25 && $0.model == seedanceModel && $0.durationSeconds == 5 })

            try await store.commit([.updateJob(try Self.finished(kept, usd: "0.06", credits: "120000"))])
            try await store.commit([.updateJob(try Self.finished(creditsOnly, usd: nil, credits: "240000"))])
            var failed = submitting(broken)
            failed.phase = .failed
            failed.submittedAt = referenceTime + .seconds(1)
            failed.generationID = "gen-broken"
            failed.finishedAt = referenceTime + .seconds(30)
            failed.failure = JobFailure(code: .generationFailed, message: "upstream error")
            try await store.commit([.updateJob(failed)])
            // A POST that created nothing: back in the queue, its reservation counts for nothing.
            var requeued = submitting(refused)
            requeued.phase = .queued
            requeued.nextActionAt = referenceTime + .seconds(10)
            try await store.commit([.updateJob(requeued)])

            // Retention deletes the finished jobs; the ledger keeps every entry.
            try await store.commit([.deleteJob(kept.id), .deleteJob(creditsOnly.id), .deleteJob(broken.id)])
            #expect(try await store.store.job(kept.id) == nil)
            let entries = try await store.store.spendEntries(since: referenceTime)
            #expect(entries.map(\.jobID) == [kept.id, creditsOnly.id, broken.id, refused.id])
            #expect(entries.map(\.state) == [.completed, .completed, .failed, .void])
            #expect(entries.map(\.usdSpent) == [0.06, nil, nil, nil])
            #expect(entries.map(\.creditsUsed) == [120_000, 240_000, nil, nil])
            let usage = UsageReport(entries: entries, by: nil, creditsPerUSD: 2_000_000)
            #expect(usage.total.generations == 3 && usage.total.completed == 2 && usage.total.failed == 1)
            #expect(abs(usage.total.usdSpent - 0.18) < 1e-12, "0.06 reported, 240,000 credits converted")
            #expect(try await store.store.spendEntries(since: referenceTime + .seconds(1)).isEmpty)
        }
    }

    /// A group commit ends many jobs at once; each entry still settles with its own job's cost.
    @Test(arguments: StoreBackend.allCases)
    func entriesOfJobsEndedInOneCommitSettleEachWithItsOwnCost(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let jobs = try (0..<4).map { try makeJob("job-ended-\($0)") }
            for job in jobs {
                try await store.commit([insert(job)])
                try await store.commit([.updateJob(submitting(job)), .reserveSpend(Self.reservation(job))])
            }
            var failed = submitting(jobs[2])
            failed.phase = .failed
            failed.finishedAt = referenceTime + .seconds(30)
            failed.failure = JobFailure(code: .generationFailed, message: "upstream error")
            var requeued = submitting(jobs[3])
            requeued.phase = .queued
            requeued.nextActionAt = referenceTime + .seconds(10)
            try await store.commit([
                .updateJob(try Self.finished(jobs[0], usd: "0.1", credits: "123456.789")),
                .updateJob(try Self.finished(jobs[1], usd: "1e-7", credits: nil)),
                .updateJob(failed), .updateJob(requeued),
            ])
            let entries = try await store.store.spendEntries(since: referenceTime)
            #expect(entries.map(\.jobID) == jobs.map(\.id))
            #expect(entries.map(\.state) == [.completed, .completed, .failed, .void])
            #expect(entries.map(\.usdSpent) == [0.1, 1e-7, nil, nil])
            #expect(entries.map(\.creditsUsed) == [123_456.789, nil, nil, nil])
            #expect(entries.allSatisfy { $0.state == .void || $0.settledAt != nil })
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aReservationThatWouldCrossTheDailyLimitFailsWithItsIntent(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            var budget = Self.budget
            budget.maxUSDPerDay = 0.6
            let jobs = try (0..<3).map { try makeJob("job-\($0)") }
            for job in jobs { try await store.commit([insert(job)]) }
            for (index, job) in jobs.prefix(2).enumerated() {
                try await store.commit([
                    .updateJob(submitting(job)), .reserveSpend(Self.reservation(job, at: .seconds(index), budget: budget)),
                ])
            }
            // 0.25 + 0.25 in flight; 0.25 more would be 0.75 > 0.6.
            var reached: BudgetReached?
            do {
                try await store.commit([
                    .updateJob(submitting(jobs[2])), .reserveSpend(Self.reservation(jobs[2], at: .seconds(10), budget: budget)),
                ])
            } catch let error as BudgetReached {
                reached = error
            }
            let verdict = try #require(reached)
            #expect(verdict.limit == .usdPerDay(0.6))
            #expect(abs(verdict.used - 0.5) < 1e-12 && verdict.estimateUSD == 0.25)
            #expect(verdict.until == referenceTime + .seconds(86400), "when the first reservation leaves the window")
            #expect(try await store.store.job(jobs[2].id)?.phase == .queued, "the intent was not recorded either")
            #expect(try await store.store.spendEntries(since: referenceTime).count == 2)

            // The first generation ends cheaper than estimated: now there is room.
            try await store.commit([.updateJob(try Self.finished(jobs[0], usd: "0.06", credits: nil))])
            try await store.commit([
                .updateJob(submitting(jobs[2])), .reserveSpend(Self.reservation(jobs[2], at: .seconds(11), budget: budget)),
            ])
            #expect(try await store.store.spendEntries(since: referenceTime).count == 3)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func theEstimateIsLearnedFromCompletedGenerationsOfTheSameKind(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            for index in 0..<4 {
                let job = try makeJob("job-\(index)")
                try await store.commit([insert(job)])
                try await store.commit([.updateJob(submitting(job)), .reserveSpend(Self.reservation(job))])
                if index < 3 {
                    try await store.commit([.updateJob(try Self.finished(job, usd: index == 1 ? "0.08" : "0.06", credits: nil))])
                }
            }
            var other = try makeJob("job-1080p")
            other = Job(
                id: other.id, phase: .queued, model: other.model, callbackURLs: [], metadata: nil,
                acceptedAt: referenceTime, sourceName: "other.json",
                parameters: GenerationParameters(resolution: "1080p", durationSeconds: 5)
            )
            try await store.commit([insert(other)])
            try await store.commit([.updateJob(submitting(other)), .reserveSpend(Self.reservation(other))])
            let estimates = try await store.store.spendEntries(since: referenceTime).map(\.estimateUSD)
            #expect(estimates == [0.25, 0.25, 0.25, 0.08, 0.25], "the highest of three samples, per kind")
        }
    }

    /// A group commit opens many entries at once: each with its own kind's estimate, and under a
    /// limit one that does not fit fails the commit with nothing written.
    @Test(arguments: StoreBackend.allCases)
    func reservationsOfOneCommitEachTakeTheirKindsEstimate(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            for (index, usd) in ["0.06", "0.08", "0.06"].enumerated() {
                let job = try makeJob("job-learned-\(index)")
                try await store.commit([insert(job)])
                try await store.commit([.updateJob(submitting(job)), .reserveSpend(Self.reservation(job))])
                try await store.commit([.updateJob(try Self.finished(job, usd: usd, credits: nil))])
            }
            let same = try (0..<2).map { try makeJob("job-same-\($0)") }
            let base = try makeJob("job-1080p")
            let other = Job(
                id: base.id, phase: .queued, model: base.model, callbackURLs: [], metadata: nil,
                acceptedAt: referenceTime, sourceName: "other.json",
                parameters: GenerationParameters(resolution: "1080p", durationSeconds: 5)
            )
            let batch = same + [other]
            try await store.commit(batch.map { insert($0) })

            var budget = Self.budget
            budget.maxUSDPerDay = 0.25 + 0.08 + 0.01  // the three learned, then room for one more 0.08
            await #expect(throws: BudgetReached.self) {
                try await store.commit(
                    same.flatMap { [.updateJob(submitting($0)), .reserveSpend(Self.reservation($0, budget: budget))] }
                )
            }
            #expect(try await store.store.spendEntries(since: referenceTime).count == 3, "nothing of the commit")

            try await store.commit(batch.flatMap { [.updateJob(submitting($0)), .reserveSpend(Self.reservation($0))] })
            let entries = try await store.store.spendEntries(since: referenceTime)
            #expect(entries.suffix(3).map(\.jobID) == batch.map(\.id))
            #expect(entries.suffix(3).map(\.estimateUSD) == [0.08, 0.08, 0.25], "the highest of three samples, per kind")
            #expect(entries.suffix(3).allSatisfy { $0.state == .reserved })
        }
    }

    /// Many submissions at the limit at once: the checks are serialized, so exactly as many fit as
    /// the limit allows at their estimate, and the rest are refused.
    @Test(arguments: StoreBackend.allCases)
    func concurrentReservationsAtTheLimitNeverOvershootIt(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let budget = BudgetSettings(maxUSDPerDay: 2.5, defaultEstimateUSD: 0.25)  // room for ten
            let jobs = try (0..<30).map { try makeJob("job-\($0)") }
            try await store.commit(jobs.map { insert($0) })
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for job in jobs {
                    group.addTask {
                        do {
                            try await store.store.commit([
                                .updateJob(submitting(job)), .reserveSpend(Self.reservation(job, budget: budget)),
                            ])
                            return true
                        } catch {
                            #expect(error is BudgetReached, "\(error)")
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 10)
            let entries = try await store.store.spendEntries(since: referenceTime)
            #expect(entries.count == 10)
            var submitted = 0
            for job in jobs where try await store.store.job(job.id)?.phase == .submitting { submitted += 1 }
            #expect(submitted == 10, "an intent is recorded exactly when its reservation is")
        }
    }

    /// Two daemons sharing PostgreSQL check under one lock: together they never overshoot either.
    @Test func twoDaemonsAtTheLimitNeverOvershootIt() async throws {
        try await withDatabase { runner in
            let first = try await runner.registeredStore(pid: 1)
            let second = try await runner.registeredStore(pid: 2)
            let budget = BudgetSettings(maxGenerationsPerHour: 7, defaultEstimateUSD: 0.25)
            let jobs = try (0..<20).map { try makeJob("job-\($0)") }
            try await first.commit(jobs.prefix(10).map { insert($0) })
            try await second.commit(jobs.suffix(10).map { insert($0) })
            let accepted = await withTaskGroup(of: Bool.self) { group in
                for (index, job) in jobs.enumerated() {
                    let store = index < 10 ? first : second
                    group.addTask {
                        do {
                            try await store.commit([.updateJob(submitting(job)), .reserveSpend(Self.reservation(job, budget: budget))])
                            return true
                        } catch {
                            return false
                        }
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == 7)
            #expect(try await first.spendEntries(since: referenceTime).count == 7)
        }
    }

    @Test func theInMemoryStoreKeepsTheSameLedger() async throws {
        let store = InMemoryJobStore()
        var budget = Self.budget
        budget.maxGenerationsPerHour = 1
        let jobs = try (0..<2).map { try makeJob("job-\($0)") }
        try await store.commit(jobs.map { insert($0) })
        try await store.commit([.updateJob(submitting(jobs[0])), .reserveSpend(Self.reservation(jobs[0], budget: budget))])
        await #expect(throws: BudgetReached.self) {
            try await store.commit([.updateJob(submitting(jobs[1])), .reserveSpend(Self.reservation(jobs[1], budget: budget))])
        }
        #expect(try await store.job(jobs[1].id)?.phase == .queued)
        try await store.commit([.updateJob(try Self.finished(jobs[0], usd: "0.06", credits: nil)), .deleteJob(jobs[0].id)])
        #expect(store.spendEntries.map(\.state) == [.completed])
        #expect(store.spendEntries.map(\.usdSpent) == [0.06])
    }
}
