/// Submissions are stopped: sending one more generation would cross `limit`.
public struct BudgetReached: Error, Sendable, Hashable, CustomStringConvertible {
    public var limit: BudgetLimit
    /// What the window holds already (dollars, or generations for the hourly limit), in-flight
    /// generations at their estimate.
    public var used: Double
    /// What the next generation is expected to cost.
    public var estimateUSD: Double
    /// When enough of the window will have moved on for that generation to fit; `nil` when
    /// waiting cannot help (the generation alone is more than the limit): only raising it can.
    public var until: Timestamp?

    public init(limit: BudgetLimit, used: Double, estimateUSD: Double, until: Timestamp?) {
        self.limit = limit
        self.used = used
        self.estimateUSD = estimateUSD
        self.until = until
    }

    /// For the status line: "$5.00 per 24 hours ($4.80 used, next ~$0.50) until 2026-…Z".
    public var description: String {
        let usedText: String
        switch limit {
        case .generationsPerHour: usedText = "\(Int(used)) submitted"
        case .usdPerDay, .usdPerMonth:
            usedText = "\(BudgetLimit.dollars(used)) used, next ~\(BudgetLimit.dollars(estimateUSD))"
        }
        return "\(limit) (\(usedText)) until \(until?.iso8601 ?? "the limit is raised")"
    }
}

/// The budget check, pure: window totals in, the limit crossed (if any) and until when out. The
/// store runs it inside the transaction that records the submission's intent.
public enum BudgetCheck {
    /// The windows whose limit one more generation costing `estimate` would cross.
    public static func crossed(
        _ windows: [BudgetWindow],
        totals: [WindowTotals],
        estimate: Double
    ) -> [(window: BudgetWindow, totals: WindowTotals)] {
        zip(windows, totals).filter { window, totals in
            switch window.limit {
            case .generationsPerHour(let maximum): totals.generations + 1 > maximum
            // A hair of tolerance, so that sums of binary fractions never stop at exactly the limit.
            case .usdPerDay(let maximum), .usdPerMonth(let maximum): totals.usd + estimate > maximum + 1e-9
            }
        }.map { ($0.0, $0.1) }
    }

    /// When the crossed `window` lets one more generation through, given its entries oldest first
    /// (reservation time, effective dollars): a rolling window drops its oldest entries as it moves
    /// on; a calendar month starts over. `nil` when waiting cannot help.
    public static func reached(
        _ window: BudgetWindow,
        totals: WindowTotals,
        estimate: Double,
        entries: [(at: Timestamp, usd: Double)]
    ) -> BudgetReached {
        let until: Timestamp?
        let used: Double
        switch window.limit {
        case .generationsPerHour(let maximum):
            used = Double(totals.generations)
            let excess = totals.generations + 1 - maximum
            if maximum <= 0 {
                until = nil
            } else if excess <= entries.count, let length = window.length {
                until = entries[excess - 1].at + length
            } else {
                until = window.nextStart
            }
        case .usdPerDay(let maximum), .usdPerMonth(let maximum):
            used = totals.usd
            if estimate > maximum + 1e-9 {
                until = nil
            } else if let nextStart = window.nextStart {
                until = nextStart
            } else {
                until = rollingUntil(entries: entries, excess: totals.usd + estimate - maximum, length: window.length)
            }
        }
        return BudgetReached(limit: window.limit, used: used, estimateUSD: estimate, until: until)
    }

    /// The moment the oldest entries that add up to `excess` have left the window.
    private static func rollingUntil(
        entries: [(at: Timestamp, usd: Double)],
        excess: Double,
        length: Duration?
    ) -> Timestamp? {
        guard let length else { return nil }
        var dropped = 0.0
        for entry in entries {
            dropped += entry.usd
            if dropped + 1e-9 >= excess { return entry.at + length }
        }
        // The entries cannot cover it (the estimate alone is too much): nothing to wait for.
        return nil
    }

    /// Of several crossed limits, the one that holds longest decides (never is longest).
    public static func decisive(_ verdicts: [BudgetReached]) -> BudgetReached? {
        verdicts.max { lhs, rhs in
            switch (lhs.until, rhs.until) {
            case (nil, _): false
            case (_, nil): true
            case (let l?, let r?): l < r
            }
        }
    }
}
