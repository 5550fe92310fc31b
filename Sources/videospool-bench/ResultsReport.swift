import Foundation

enum ResultsReport {
    /// An aligned text table: scenario, metric, value, target and whether it is met.
    static func table(_ results: [ScenarioResult]) -> String {
        var rows: [[String]] = [["scenario", "metric", "value", "target", ""]]
        for result in results {
            for metric in result.metrics {
                let verdict = metric.met.map { $0 ? "met" : "NOT MET" } ?? ""
                rows.append([result.name, metric.name, "\(Metric.format(metric.value)) \(metric.unit)", metric.goalText, verdict])
            }
        }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var text = ""
        for (number, row) in rows.enumerated() {
            let cells = row.enumerated().map { column, cell in
                column == 2 ? String(repeating: " ", count: widths[column] - cell.count) + cell
                    : cell + String(repeating: " ", count: widths[column] - cell.count)
            }
            text += cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
            if number == 0 { text += widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ") + "\n" }
        }
        for result in results {
            text += "  \(result.name): \(result.summary)\n"
            for note in result.notes { text += "    \(note)\n" }
        }
        return text
    }

    /// The same results as JSON, so runs can be compared.
    static func json(_ results: [ScenarioResult], quick: Bool) throws -> Data {
        let scenarios = results.map { result -> [String: Any] in
            [
                "name": result.name,
                "summary": result.summary,
                "notes": result.notes,
                "metrics": result.metrics.map { metric -> [String: Any] in
                    var entry: [String: Any] = ["name": metric.name, "unit": metric.unit]
                    entry["value"] = metric.value.isFinite ? metric.value : NSNull()
                    if !metric.goalText.isEmpty { entry["target"] = metric.goalText }
                    if let met = metric.met { entry["met"] = met }
                    return entry
                },
            ]
        }
        let document: [String: Any] = [
            "date": ISO8601DateFormatter().string(from: Date()),
            "cores": ProcessInfo.processInfo.activeProcessorCount,
            "kernel": ProcessInfo.processInfo.operatingSystemVersionString,
            "quick": quick,
            "scenarios": scenarios,
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
    }
}
