/// The most recent completion-time observations of one key, in a fixed-size window, and the
/// distribution they describe.
///
/// Each observation is an interval (still running at `after`, complete by `before`), so the
/// distribution is the average of uniform distributions over those intervals: an estimate that
/// does not pretend to know more than polling saw, and that is as sharp as the polls were dense.
/// Its CDF is piecewise linear; it is rebuilt on every observation (completions are rare) so that
/// quantiles, asked for on every poll, cost a binary search.
public struct CompletionTimeDistribution: Sendable, Hashable {
    private var afters: [Double] = []
    private var befores: [Double] = []
    /// Where the next observation goes once the window is full (the oldest one).
    private var oldest = 0
    /// The CDF at each breakpoint: `below` just before it, `atOrBelow` at it (after point masses).
    private var breakpoints: [Double] = []
    private var below: [Double] = []
    private var atOrBelow: [Double] = []
    public let capacity: Int

    public init(capacity: Int) {
        precondition(capacity > 0, "a distribution needs room for at least one observation")
        self.capacity = capacity
    }

    public var count: Int { afters.count }

    /// Adds an observation, forgetting the oldest once the window is full.
    public mutating func record(after: Double, before: Double) {
        let after = min(after, before)
        if afters.count < capacity {
            afters.append(after)
            befores.append(before)
        } else {
            afters[oldest] = after
            befores[oldest] = before
            oldest = (oldest + 1) % capacity
        }
        rebuildCurve()
    }

    /// The fraction of generations complete `seconds` after submission.
    public func probabilityComplete(by seconds: Double) -> Double {
        guard !afters.isEmpty else { return 0 }
        var total = 0.0
        for (after, before) in zip(afters, befores) {
            if seconds >= before {
                total += 1
            } else if seconds > after {
                total += (seconds - after) / (before - after)
            }
        }
        return total / Double(afters.count)
    }

    /// The earliest time after submission by which a fraction `probability` of generations is
    /// complete.
    public func quantile(_ probability: Double) -> Double {
        guard !breakpoints.isEmpty else { return 0 }
        // A hair below the asked-for fraction, so that sums of 1/n that round down still count.
        let target = min(max(probability, 0), 1) - 1e-9
        // First breakpoint whose CDF reaches the target.
        var low = 0
        var high = breakpoints.count - 1
        while low < high {
            let middle = (low + high) / 2
            if atOrBelow[middle] >= target { high = middle } else { low = middle + 1 }
        }
        let index = low
        guard index > 0, below[index] > target else { return breakpoints[index] }
        // Reached on the linear stretch before this breakpoint.
        let start = atOrBelow[index - 1]
        let fraction = (target - start) / (below[index] - start)
        return breakpoints[index - 1] + fraction * (breakpoints[index] - breakpoints[index - 1])
    }

    /// Sweeps the sorted interval ends, tracking the CDF's slope (uniform parts) and jumps (exact
    /// observations).
    private mutating func rebuildCurve() {
        let weight = 1 / Double(afters.count)
        // (time, change of slope, jump) for every interval end, in time order.
        var events: [(time: Double, slope: Double, jump: Double)] = []
        events.reserveCapacity(2 * afters.count)
        for (after, before) in zip(afters, befores) {
            if before > after {
                let slope = weight / (before - after)
                events.append((after, slope, 0))
                events.append((before, -slope, 0))
            } else {
                events.append((before, 0, weight))
            }
        }
        events.sort { $0.time < $1.time }
        breakpoints = []
        below = []
        atOrBelow = []
        var value = 0.0
        var slope = 0.0
        for event in events {
            if let last = breakpoints.last, last == event.time {
                atOrBelow[atOrBelow.count - 1] += event.jump
                value += event.jump
            } else {
                value += slope * (event.time - (breakpoints.last ?? event.time))
                breakpoints.append(event.time)
                below.append(value)
                value += event.jump
                atOrBelow.append(value)
            }
            slope += event.slope
        }
    }
}
