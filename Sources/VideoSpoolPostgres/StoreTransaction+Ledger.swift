import PostgresNIO
import VideoSpoolCore

/// The spend ledger on PostgreSQL, as on SQLite (SQLiteLedger.swift); the rules are in
/// VideoSpoolCore/Budget.
extension StoreTransaction {
    /// What an entry counts as in a window (``SpendEntry/effectiveUSD(creditsPerUSD:)``).
    private static func effectiveUSD(creditsPerUSD: Double) -> String {
        """
        CASE state WHEN 'reserved' THEN estimate_usd WHEN 'void' THEN 0
            ELSE coalesce(usd_spent, credits_used / \(creditsPerUSD)::double precision, 0) END
        """
    }

    private static func estimateSamplesBinds(_ reservation: SpendReservation) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(reservation.model)
        binds.append(Int64(SpendEstimate.sampleLimit))
        if let resolution = reservation.resolution { binds.append(resolution) }
        if let duration = reservation.durationSeconds { binds.append(Int64(duration)) }
        return binds
    }

    func reserve(_ reservation: SpendReservation) async throws {
        let t = tables
        let budget = reservation.budget
        let samples = try await rows(
            PostgresQuery(
                unsafeSQL: PostgresJobStore.estimateSamplesSQL(
                    ledger: t.ledger,
                    resolution: reservation.resolution != nil,
                    duration: reservation.durationSeconds != nil
                ),
                binds: Self.estimateSamplesBinds(reservation)
            )
        ).compactMap { row in
            SpendEntry.reportedUSD(
                usdSpent: try row["usd_spent"].decode(Double?.self),
                creditsUsed: try row["credits_used"].decode(Double?.self),
                creditsPerUSD: budget.creditsPerUSD
            )
        }
        let estimate = SpendEstimate.estimate(samples: samples, default: budget.defaultEstimateUSD)
        if budget.hasLimits {
            // Every daemon sharing the store checks one at a time until its transaction ends, so
            // two submissions never both fit under a limit that only one of them fits.
            try await execute("SELECT pg_advisory_xact_lock(hashtext(\(t.budgetLock)))")
            let effective = Self.effectiveUSD(creditsPerUSD: budget.creditsPerUSD)
            let windows = budget.windows(now: reservation.at)
            var totals: [WindowTotals] = []
            for window in windows {
                let row = try await rows(
                    """
                    SELECT coalesce(sum(\(unescaped: effective)), 0)::double precision, count(*)
                    FROM \(unescaped: t.ledger) WHERE reserved_at >= \(window.start.millisecondsSinceEpoch) AND state <> 'void'
                    """
                ).first
                totals.append(
                    WindowTotals(
                        usd: try row?[0].decode(Double.self) ?? 0,
                        generations: Int(try row?[1].decode(Int64.self) ?? 0)
                    )
                )
            }
            var verdicts: [BudgetReached] = []
            for (window, windowTotals) in BudgetCheck.crossed(windows, totals: totals, estimate: estimate) {
                let entries = try await rows(
                    """
                    SELECT reserved_at, (\(unescaped: effective))::double precision FROM \(unescaped: t.ledger)
                    WHERE reserved_at >= \(window.start.millisecondsSinceEpoch) AND state <> 'void'
                    ORDER BY reserved_at, seq
                    """
                ).map { row in
                    (at: Timestamp(millisecondsSinceEpoch: try row[0].decode(Int64.self)), usd: try row[1].decode(Double.self))
                }
                verdicts.append(BudgetCheck.reached(window, totals: windowTotals, estimate: estimate, entries: entries))
            }
            if let reached = BudgetCheck.decisive(verdicts) { throw reached }
        }
        try await execute(
            """
            INSERT INTO \(unescaped: t.ledger) (job_id, model, resolution, duration_seconds, reserved_at, estimate_usd, state)
            VALUES (\(reservation.jobID.rawValue), \(reservation.model), \(reservation.resolution),
                \(reservation.durationSeconds.map(Int64.init)), \(reservation.at.millisecondsSinceEpoch), \(estimate), 'reserved')
            """
        )
    }

    /// Settles the jobs' open ledger entries: every ended generation with one statement (a group
    /// commit ends many at once), a requeued job's entry on its own.
    func settle(_ settlements: [(JobID, SpendSettlement)]) async throws {
        var ended: [JSONValue] = []
        var endedIDs: [String] = []
        for (id, settlement) in settlements {
            switch settlement {
            case .settle(let state, let usd, let credits):
                // Doubles as Swift's shortest round-trip text, which PostgreSQL reads back exactly.
                ended.append(.array([.string(id.rawValue), .string(state.rawValue), .optional(usd?.description),
                    .optional(credits?.description)]))
                endedIDs.append(id.rawValue)
            case .requeued(let submittedAt): try await settleRequeued(id, submittedAt: submittedAt)
            }
        }
        guard !ended.isEmpty else { return }
        let rows = JSONWriter().string(.array(ended))
        try await execute(
            """
            UPDATE \(unescaped: tables.ledger) l SET state = r->>1, settled_at = \(appNow.millisecondsSinceEpoch),
                usd_spent = (r->>2)::double precision, credits_used = (r->>3)::double precision
            FROM jsonb_array_elements(\(rows)::jsonb) AS r
            WHERE l.job_id = ANY(\(endedIDs)) AND l.job_id = r->>0 AND l.state = 'reserved'
            """
        )
    }

    /// A requeued job's open entry: a failed generation if the API accepted its POST after the
    /// reservation, else void.
    private func settleRequeued(_ id: JobID, submittedAt: Timestamp?) async throws {
        try await execute(
            """
            UPDATE \(unescaped: tables.ledger) SET settled_at = \(appNow.millisecondsSinceEpoch),
                state = CASE WHEN \(submittedAt?.millisecondsSinceEpoch)::bigint >= reserved_at THEN 'failed' ELSE 'void' END
            WHERE job_id = \(id.rawValue) AND state = 'reserved'
            """
        )
    }

    func spendEntries(since: Timestamp) async throws -> [SpendEntry] {
        try await rows(
            """
            SELECT job_id, model, resolution, duration_seconds, reserved_at, estimate_usd, state, settled_at,
                usd_spent, credits_used
            FROM \(unescaped: tables.ledger) WHERE reserved_at >= \(since.millisecondsSinceEpoch)
            ORDER BY reserved_at, seq
            """
        ).map { row in
            SpendEntry(
                jobID: JobID(trusted: try row["job_id"].decode(String.self)),
                model: try row["model"].decode(String.self),
                resolution: try row["resolution"].decode(String?.self),
                durationSeconds: try row["duration_seconds"].decode(Int64?.self).map(Int.init),
                reservedAt: Timestamp(millisecondsSinceEpoch: try row["reserved_at"].decode(Int64.self)),
                estimateUSD: try row["estimate_usd"].decode(Double.self),
                state: SpendEntry.State(rawValue: try row["state"].decode(String.self)) ?? .failed,
                settledAt: try row["settled_at"].decode(Int64?.self).map(Timestamp.init(millisecondsSinceEpoch:)),
                usdSpent: try row["usd_spent"].decode(Double?.self),
                creditsUsed: try row["credits_used"].decode(Double?.self)
            )
        }
    }
}

extension PostgresJobStore {
    /// The latest completed entries of one kind, newest first (`$1` the model, `$2` the limit,
    /// then the resolution and duration when they are set), walking `spend_ledger_kind` and
    /// stopping at the limit. Left to itself the planner walks the primary key backwards instead,
    /// stepping over every newer entry still `reserved` (a burst's thousands): the ORDER BY names
    /// the index's columns (all equal here) so that only that index gives the order. A set value
    /// is matched as a range of one (`>= x AND <= x`): an `=` would make the column a constant to
    /// the planner, which then drops it from the order and is free to walk the key again. A
    /// missing value is matched with `IS NULL`, which the index serves (`IS NOT DISTINCT FROM`
    /// it does not).
    package static func estimateSamplesSQL(ledger: String, resolution: Bool, duration: Bool) -> String {
        var next = 3
        func match(_ column: String, _ isSet: Bool) -> String {
            guard isSet else { return "\(column) IS NULL" }
            defer { next += 1 }
            return "\(column) >= $\(next) AND \(column) <= $\(next)"
        }
        return """
            SELECT usd_spent, credits_used FROM \(ledger)
            WHERE state = 'completed' AND model = $1 AND \(match("resolution", resolution))
                AND \(match("duration_seconds", duration))
            ORDER BY model DESC, resolution DESC, duration_seconds DESC, seq DESC LIMIT $2
            """
    }
}
