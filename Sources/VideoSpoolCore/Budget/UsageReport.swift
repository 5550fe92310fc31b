/// `videospool usage`: the spend ledger added up, by model, day or hour (UTC), or in total.
public struct UsageReport: Sendable, Hashable {
    public enum Grouping: String, Sendable, Hashable, CaseIterable {
        case model
        case day
        case hour
    }

    public struct Row: Sendable, Hashable {
        /// The model, the day (`2026-11-29`) or the hour (`2026-11-29T14:00Z`); `total` for the sum.
        public var key: String
        /// Generations that reached the API (void reservations are not counted).
        public var generations = 0
        public var completed = 0
        public var failed = 0
        public var inFlight = 0
        /// What the settled generations cost (`usd_spent`, else converted `credits_used`).
        public var usdSpent = 0.0
        /// The `credits_used` the API reported.
        public var creditsUsed = 0.0
        /// What the in-flight generations are expected to cost.
        public var inFlightEstimateUSD = 0.0

        public init(key: String) {
            self.key = key
        }

        mutating func add(_ entry: SpendEntry, creditsPerUSD: Double) {
            switch entry.state {
            case .void: return
            case .reserved:
                inFlight += 1
                inFlightEstimateUSD += entry.estimateUSD
            case .completed: completed += 1
            case .failed: failed += 1
            }
            generations += 1
            if entry.state != .reserved {
                usdSpent += entry.effectiveUSD(creditsPerUSD: creditsPerUSD)
                creditsUsed += entry.creditsUsed ?? 0
            }
        }
    }

    /// One row per group, in key order (empty groups are left out).
    public var rows: [Row]
    public var total: Row

    public init(entries: [SpendEntry], by grouping: Grouping?, creditsPerUSD: Double) {
        var groups: [String: Row] = [:]
        var total = Row(key: "total")
        for entry in entries where entry.state != .void {
            total.add(entry, creditsPerUSD: creditsPerUSD)
            guard let grouping else { continue }
            let key = Self.key(entry, grouping)
            groups[key, default: Row(key: key)].add(entry, creditsPerUSD: creditsPerUSD)
        }
        self.rows = groups.values.sorted { $0.key < $1.key }
        self.total = total
    }

    private static func key(_ entry: SpendEntry, _ grouping: Grouping) -> String {
        let iso = entry.reservedAt.iso8601
        switch grouping {
        case .model: return entry.model
        case .day: return String(iso.prefix(10))
        case .hour: return String(iso.prefix(13)) + ":00Z"
        }
    }
}
