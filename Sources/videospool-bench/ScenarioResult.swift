import Foundation

/// One measured value, with the target it is held against (if the issue sets one).
struct Metric {
    enum Goal { case atLeast(Double), atMost(Double) }

    let name: String
    let value: Double
    let unit: String
    var goal: Goal? = nil

    var met: Bool? {
        switch goal {
        case .atLeast(let bound): value >= bound
        case .atMost(let bound): value <= bound
        case nil: nil
        }
    }

    var goalText: String {
        switch goal {
        case .atLeast(let bound): "≥ \(Metric.format(bound)) \(unit)"
        case .atMost(let bound): "≤ \(Metric.format(bound)) \(unit)"
        case nil: ""
        }
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e9 { return String(Int(value)) }
        if abs(value) >= 100 { return String(format: "%.0f", value) }
        if abs(value) >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.3f", value)
    }
}

struct ScenarioResult {
    let name: String
    let summary: String
    var metrics: [Metric] = []
    var notes: [String] = []

    mutating func add(_ name: String, _ value: Double, _ unit: String, _ goal: Metric.Goal? = nil) {
        metrics.append(Metric(name: name, value: value, unit: unit, goal: goal))
    }
}

/// Percentiles by the nearest-rank method.
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

func mean(_ values: [Double]) -> Double {
    values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
}

extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
