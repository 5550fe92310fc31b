/// `budget.*`: the spending limits (each off when `nil`) and how spend is counted. Replaced live on
/// reload.
public struct BudgetSettings: Sendable, Hashable {
    /// USD in any rolling 24 hours.
    public var maxUSDPerDay: Double?
    /// USD in the calendar month, in UTC.
    public var maxUSDPerMonth: Double?
    /// Generations submitted in any rolling hour.
    public var maxGenerationsPerHour: Int?
    /// What a generation is expected to cost until enough of its kind have completed
    /// (``SpendEstimate``).
    public var defaultEstimateUSD: Double
    /// Converts `credits_used` when the API reports no `usd_spent` (the API's own example:
    /// 120,000 credits = $0.06).
    public var creditsPerUSD: Double

    public static let defaultCreditsPerUSD = 2_000_000.0
    public static let defaultEstimate = 0.5

    public init(
        maxUSDPerDay: Double? = nil,
        maxUSDPerMonth: Double? = nil,
        maxGenerationsPerHour: Int? = nil,
        defaultEstimateUSD: Double = BudgetSettings.defaultEstimate,
        creditsPerUSD: Double = BudgetSettings.defaultCreditsPerUSD
    ) {
        self.maxUSDPerDay = maxUSDPerDay
        self.maxUSDPerMonth = maxUSDPerMonth
        self.maxGenerationsPerHour = maxGenerationsPerHour
        self.defaultEstimateUSD = defaultEstimateUSD
        self.creditsPerUSD = creditsPerUSD
    }

    /// Whether any limit is set (without one, submissions are never checked).
    public var hasLimits: Bool { maxUSDPerDay != nil || maxUSDPerMonth != nil || maxGenerationsPerHour != nil }

    /// The windows the limits in force are counted over, at `now`.
    public func windows(now: Timestamp) -> [BudgetWindow] {
        var windows: [BudgetWindow] = []
        if let maxGenerationsPerHour {
            windows.append(BudgetWindow(limit: .generationsPerHour(maxGenerationsPerHour), now: now))
        }
        if let maxUSDPerDay { windows.append(BudgetWindow(limit: .usdPerDay(maxUSDPerDay), now: now)) }
        if let maxUSDPerMonth { windows.append(BudgetWindow(limit: .usdPerMonth(maxUSDPerMonth), now: now)) }
        return windows
    }
}

/// One limit and its value.
public enum BudgetLimit: Sendable, Hashable, CustomStringConvertible {
    case usdPerDay(Double)
    case usdPerMonth(Double)
    case generationsPerHour(Int)

    /// The configuration key that sets it.
    public var key: String {
        switch self {
        case .usdPerDay: "budget.max_usd_per_day"
        case .usdPerMonth: "budget.max_usd_per_month"
        case .generationsPerHour: "budget.max_generations_per_hour"
        }
    }

    public var description: String {
        switch self {
        case .usdPerDay(let usd): "\(BudgetLimit.dollars(usd)) per 24 hours"
        case .usdPerMonth(let usd): "\(BudgetLimit.dollars(usd)) per month (UTC)"
        case .generationsPerHour(let count): "\(count) generations per hour"
        }
    }

    /// `$4.20`; cents are enough for a limit, smaller amounts keep their digits (`$0.006`).
    public static func dollars(_ usd: Double) -> String {
        let cents = (usd * 100).rounded() / 100
        if abs(cents - usd) < 1e-9 {
            let whole = Int64((usd * 100).rounded())
            let fraction = abs(whole % 100)
            return "$\(whole / 100).\(fraction < 10 ? "0" : "")\(fraction)"
        }
        return "$\(usd)"
    }
}
