/// Completion times learned from finished generations, one distribution per
/// ``CompletionTimeKey``, in bounded memory: a window of recent observations per key and a
/// bounded number of keys (the least recently observed key is forgotten first).
public struct CompletionTimeModel: Sendable {
    public struct Limits: Sendable, Hashable {
        /// Observations kept per key; older ones are forgotten, so the model follows drift.
        public var observationsPerKey: Int
        /// Keys kept at once.
        public var keys: Int
        /// Observations a key needs before its distribution is used; below this the fixed
        /// schedule applies (a handful of samples says little about a low quantile).
        public var minimumObservations: Int

        public init(observationsPerKey: Int = 200, keys: Int = 64, minimumObservations: Int = 20) {
            precondition(observationsPerKey > 0 && keys > 0, "limits must be positive")
            self.observationsPerKey = observationsPerKey
            self.keys = keys
            self.minimumObservations = max(1, minimumObservations)
        }
    }

    private struct Entry: Sendable {
        var distribution: CompletionTimeDistribution
        var lastObserved: UInt64
    }

    public let limits: Limits
    private var entries: [CompletionTimeKey: Entry] = [:]
    private var observations: UInt64 = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    public mutating func record(_ observation: CompletionObservation) {
        observations += 1
        if var entry = entries[observation.key] {
            entries[observation.key] = nil  // keeps the distribution's storage uniquely referenced
            entry.distribution.record(after: observation.after, before: observation.before)
            entry.lastObserved = observations
            entries[observation.key] = entry
            return
        }
        if entries.count >= limits.keys,
            let stalest = entries.min(by: { $0.value.lastObserved < $1.value.lastObserved })?.key
        {
            entries[stalest] = nil
        }
        var distribution = CompletionTimeDistribution(capacity: limits.observationsPerKey)
        distribution.record(after: observation.after, before: observation.before)
        entries[observation.key] = Entry(distribution: distribution, lastObserved: observations)
    }

    /// The key's distribution once it has enough observations to schedule by, else `nil`.
    public func distribution(for key: CompletionTimeKey) -> CompletionTimeDistribution? {
        guard let entry = entries[key], entry.distribution.count >= limits.minimumObservations else { return nil }
        return entry.distribution
    }

    /// Observations held for `key`.
    public func observationCount(for key: CompletionTimeKey) -> Int {
        entries[key]?.distribution.count ?? 0
    }

    /// Keys held.
    public var keyCount: Int { entries.count }
}
