/// What a generation of one kind (model, resolution, duration) is expected to cost, learned from
/// what the last completed ones of that kind cost, as the poll schedule learns completion times.
public enum SpendEstimate {
    /// Completed generations of a kind needed before their costs replace the default.
    public static let minimumSamples = 3
    /// How many of the most recent completed generations are looked at.
    public static let sampleLimit = 20

    /// The highest of the recent costs: prices are per second of video, so a kind's costs rarely
    /// vary, and when they do (a price change) the estimate must not be below what was just paid,
    /// or in-flight generations overshoot the budget. The default until there are enough samples.
    public static func estimate(samples: [Double], default fallback: Double) -> Double {
        let usable = samples.filter { $0.isFinite && $0 >= 0 }
        guard usable.count >= minimumSamples else { return fallback }
        return usable.max() ?? fallback
    }
}
