import VideoSpoolCore

/// The spend ledger of ``InMemoryJobStore``, with the SQLite store's semantics (SQLiteLedger.swift).
struct InMemoryLedger {
    private(set) var entries: [SpendEntry] = []

    mutating func reserve(_ reservation: SpendReservation) throws {
        let budget = reservation.budget
        let samples = entries.reversed().lazy.filter {
            $0.state == .completed && $0.model == reservation.model && $0.resolution == reservation.resolution
                && $0.durationSeconds == reservation.durationSeconds
        }.prefix(SpendEstimate.sampleLimit).compactMap { entry in
            SpendEntry.reportedUSD(
                usdSpent: entry.usdSpent,
                creditsUsed: entry.creditsUsed,
                creditsPerUSD: budget.creditsPerUSD
            )
        }
        let estimate = SpendEstimate.estimate(samples: Array(samples), default: budget.defaultEstimateUSD)
        if budget.hasLimits {
            let windows = budget.windows(now: reservation.at)
            let inWindow = windows.map { window in
                entries.filter { $0.reservedAt >= window.start && $0.state != .void }
                    .sorted { $0.reservedAt < $1.reservedAt }
            }
            let totals = inWindow.map { window in
                WindowTotals(
                    usd: window.reduce(0) { $0 + $1.effectiveUSD(creditsPerUSD: budget.creditsPerUSD) },
                    generations: window.count
                )
            }
            let verdicts = BudgetCheck.crossed(windows, totals: totals, estimate: estimate).map { window, windowTotals in
                let index = windows.firstIndex(of: window) ?? 0
                return BudgetCheck.reached(
                    window,
                    totals: windowTotals,
                    estimate: estimate,
                    entries: inWindow[index].map { entry in
                        (entry.reservedAt, entry.effectiveUSD(creditsPerUSD: budget.creditsPerUSD))
                    }
                )
            }
            if let reached = BudgetCheck.decisive(verdicts) { throw reached }
        }
        entries.append(
            SpendEntry(
                jobID: reservation.jobID,
                model: reservation.model,
                resolution: reservation.resolution,
                durationSeconds: reservation.durationSeconds,
                reservedAt: reservation.at,
                estimateUSD: estimate,
                state: .reserved
            )
        )
    }

    mutating func settle(_ job: Job, at now: Timestamp) {
        guard let settlement = SpendSettlement.implied(by: job) else { return }
        for index in entries.indices where entries[index].jobID == job.id && entries[index].state == .reserved {
            entries[index].settledAt = now
            switch settlement {
            case .settle(let state, let usd, let credits):
                entries[index].state = state
                entries[index].usdSpent = usd
                entries[index].creditsUsed = credits
            case .requeued(let submittedAt):
                entries[index].state = submittedAt.map { $0 >= entries[index].reservedAt } == true ? .failed : .void
            }
        }
    }
}
