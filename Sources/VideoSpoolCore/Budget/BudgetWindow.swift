/// The ledger entries one limit counts at one moment: those reserved at or after ``start``.
public struct BudgetWindow: Sendable, Hashable {
    public let limit: BudgetLimit
    /// The oldest reservation time still inside the window (inclusive).
    public let start: Timestamp
    /// For a calendar window, when the next one begins; `nil` for a rolling window.
    public let nextStart: Timestamp?

    public init(limit: BudgetLimit, now: Timestamp) {
        self.limit = limit
        switch limit {
        case .generationsPerHour:
            start = now - .seconds(3600) + .milliseconds(1)
            nextStart = nil
        case .usdPerDay:
            start = now - .seconds(86400) + .milliseconds(1)
            nextStart = nil
        case .usdPerMonth:
            let month = CalendarMonth(containing: now)
            start = month.start
            nextStart = month.next.start
        }
    }

    /// How long an entry stays in a rolling window.
    var length: Duration? {
        switch limit {
        case .generationsPerHour: .seconds(3600)
        case .usdPerDay: .seconds(86400)
        case .usdPerMonth: nil
        }
    }

    /// Whether the window counts generations rather than dollars.
    public var countsGenerations: Bool {
        if case .generationsPerHour = limit { return true }
        return false
    }
}

/// What the ledger holds in one window: dollars (settled at what they cost, in flight at their
/// estimate) and generations (every entry but `void` ones).
public struct WindowTotals: Sendable, Hashable {
    public var usd: Double
    public var generations: Int

    public init(usd: Double, generations: Int) {
        self.usd = usd
        self.generations = generations
    }
}

/// A calendar month in UTC.
struct CalendarMonth: Hashable {
    var year: Int64
    var month: Int64

    init(containing time: Timestamp) {
        let milliseconds = time.millisecondsSinceEpoch
        let days = milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000
        let date = Timestamp.civilDate(daysSinceEpoch: days)
        year = date.year
        month = date.month
    }

    init(year: Int64, month: Int64) {
        self.year = year
        self.month = month
    }

    var next: CalendarMonth {
        month == 12 ? CalendarMonth(year: year + 1, month: 1) : CalendarMonth(year: year, month: month + 1)
    }

    /// Midnight UTC on the first day (Howard Hinnant's days-from-civil).
    var start: Timestamp {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return Timestamp(secondsSinceEpoch: (era * 146_097 + doe - 719_468) * 86400)
    }
}
