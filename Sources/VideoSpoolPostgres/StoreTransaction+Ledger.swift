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

    /// Opens the ledger entries of new submissions. Without a limit the entries of many jobs go in
    /// with one statement, and jobs of one kind share one estimate (it reads settled entries only,
    /// which a reservation does not change). Under a limit each is checked and written in turn.
    func reserve(_ reservations: [SpendReservation]) async throws {
        var samples: [EstimateKind: [(usd: Double?, credits: Double?)]] = [:]
        var open: [(SpendReservation, Double)] = []
        for reservation in reservations {
            let kind = EstimateKind(reservation)
            if samples[kind] == nil { samples[kind] = try await estimateSamples(reservation) }
            let budget = reservation.budget
            let estimate = SpendEstimate.estimate(
                samples: samples[kind, default: []].compactMap {
                    SpendEntry.reportedUSD(usdSpent: $0.usd, creditsUsed: $0.credits, creditsPerUSD: budget.creditsPerUSD)
                },
                default: budget.defaultEstimateUSD
            )
            if budget.hasLimits {
                try await checkLimits(reservation, estimate: estimate)
                try await openEntries([(reservation, estimate)])
            } else {
                open.append((reservation, estimate))
            }
        }
        for run in open.runs(of: 5000) { try await openEntries(Array(run)) }
    }

    /// Jobs whose estimates come from the same completed entries.
    private struct EstimateKind: Hashable {
        let model: String
        let resolution: String?
        let durationSeconds: Int?

        init(_ reservation: SpendReservation) {
            model = reservation.model
            resolution = reservation.resolution
            durationSeconds = reservation.durationSeconds
        }
    }

    private func estimateSamples(_ reservation: SpendReservation) async throws -> [(usd: Double?, credits: Double?)] {
        try await rows(
            PostgresQuery(
                unsafeSQL: PostgresJobStore.estimateSamplesSQL(
                    ledger: tables.ledger,
                    resolution: reservation.resolution != nil,
                    duration: reservation.durationSeconds != nil
                ),
                binds: Self.estimateSamplesBinds(reservation)
            )
        ).map { row in (try row["usd_spent"].decode(Double?.self), try row["credits_used"].decode(Double?.self)) }
    }

    /// Refuses a submission that would cross a spending limit (``BudgetReached``).
    private func checkLimits(_ reservation: SpendReservation, estimate: Double) async throws {
        let t = tables
        let budget = reservation.budget
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

    private func openEntries(_ entries: [(SpendReservation, Double)]) async throws {
        var v = BoundValues()
        let rows = entries.map { reservation, estimate in
            BoundValues.row([
                v(reservation.jobID.rawValue, "text"), v(reservation.model, "text"), v(reservation.resolution, "text"),
                v(reservation.durationSeconds.map(Int64.init), "bigint"),
                v(reservation.at.millisecondsSinceEpoch, "bigint"), v(estimate, "double precision"), "'reserved'",
            ])
        }
        try await execute(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(tables.ledger) (job_id, model, resolution, duration_seconds, reserved_at, estimate_usd, state)
                    VALUES \(rows.joined(separator: ", "))
                    """,
                binds: v.bindings
            )
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
