import GRDB
import VideoSpoolCore

/// The spend ledger's statements on SQLite (the rules are in VideoSpoolCore/Budget).
enum SQLiteLedger {
    /// What an entry counts as in a window, in SQL (see ``SpendEntry/effectiveUSD(creditsPerUSD:)``);
    /// its one argument is `credits_per_usd`.
    static let effectiveUSD = """
        CASE state WHEN 'reserved' THEN estimate_usd WHEN 'void' THEN 0
            ELSE coalesce(usd_spent, credits_used / ?, 0) END
        """

    static func reserve(_ reservation: SpendReservation, in db: Database) throws {
        let budget = reservation.budget
        let samples = try Row.fetchAll(
            db,
            sql: """
                SELECT usd_spent, credits_used FROM spend_ledger
                WHERE state = 'completed' AND model = ? AND resolution IS ? AND duration_seconds IS ?
                ORDER BY seq DESC LIMIT ?
                """,
            arguments: [
                reservation.model, reservation.resolution, reservation.durationSeconds, SpendEstimate.sampleLimit,
            ]
        ).compactMap { row in
            SpendEntry.reportedUSD(
                usdSpent: row["usd_spent"],
                creditsUsed: row["credits_used"],
                creditsPerUSD: budget.creditsPerUSD
            )
        }
        let estimate = SpendEstimate.estimate(samples: samples, default: budget.defaultEstimateUSD)
        if budget.hasLimits {
            let windows = budget.windows(now: reservation.at)
            let totals = try windows.map { window -> WindowTotals in
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT coalesce(sum(\(effectiveUSD)), 0) AS usd, count(*) AS n FROM spend_ledger
                        WHERE reserved_at >= ? AND state != 'void'
                        """,
                    arguments: [budget.creditsPerUSD, window.start.millisecondsSinceEpoch]
                )
                return WindowTotals(usd: row?["usd"] ?? 0, generations: row?["n"] ?? 0)
            }
            let verdicts = try BudgetCheck.crossed(windows, totals: totals, estimate: estimate).map { window, totals in
                let entries = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT reserved_at, \(effectiveUSD) AS usd FROM spend_ledger
                        WHERE reserved_at >= ? AND state != 'void' ORDER BY reserved_at, seq
                        """,
                    arguments: [budget.creditsPerUSD, window.start.millisecondsSinceEpoch]
                ).map { row in (at: Timestamp(millisecondsSinceEpoch: row["reserved_at"]), usd: row["usd"] as Double) }
                return BudgetCheck.reached(window, totals: totals, estimate: estimate, entries: entries)
            }
            if let reached = BudgetCheck.decisive(verdicts) { throw reached }
        }
        try db.executeCached(
            sql: """
                INSERT INTO spend_ledger (job_id, model, resolution, duration_seconds, reserved_at, estimate_usd, state)
                VALUES (?, ?, ?, ?, ?, ?, 'reserved')
                """,
            arguments: [
                reservation.jobID.rawValue, reservation.model, reservation.resolution, reservation.durationSeconds,
                reservation.at.millisecondsSinceEpoch, estimate,
            ]
        )
    }

    static func apply(_ settlement: SpendSettlement, for id: JobID, at now: Timestamp, in db: Database) throws {
        switch settlement {
        case .settle(let state, let usd, let credits):
            try db.executeCached(
                sql: """
                    UPDATE spend_ledger SET state = ?, settled_at = ?, usd_spent = ?, credits_used = ?
                    WHERE job_id = ? AND state = 'reserved'
                    """,
                arguments: [state.rawValue, now.millisecondsSinceEpoch, usd, credits, id.rawValue]
            )
        case .requeued(let submittedAt):
            try db.executeCached(
                sql: """
                    UPDATE spend_ledger SET settled_at = ?,
                        state = CASE WHEN ? >= reserved_at THEN 'failed' ELSE 'void' END
                    WHERE job_id = ? AND state = 'reserved'
                    """,
                arguments: [now.millisecondsSinceEpoch, submittedAt?.millisecondsSinceEpoch, id.rawValue]
            )
        }
    }

    static func entries(since: Timestamp, in db: Database) throws -> [SpendEntry] {
        try Row.fetchAll(
            db,
            sql: "SELECT * FROM spend_ledger WHERE reserved_at >= ? ORDER BY reserved_at, seq",
            arguments: [since.millisecondsSinceEpoch]
        ).map { row in
            SpendEntry(
                jobID: JobID(trusted: row["job_id"]),
                model: row["model"],
                resolution: row["resolution"],
                durationSeconds: row["duration_seconds"],
                reservedAt: Timestamp(millisecondsSinceEpoch: row["reserved_at"]),
                estimateUSD: row["estimate_usd"],
                state: SpendEntry.State(rawValue: row["state"]) ?? .failed,
                settledAt: (row["settled_at"] as Int64?).map(Timestamp.init(millisecondsSinceEpoch:)),
                usdSpent: row["usd_spent"],
                creditsUsed: row["credits_used"]
            )
        }
    }
}
