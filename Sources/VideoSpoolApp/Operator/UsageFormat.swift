public import VideoSpoolCore

/// How `videospool usage` prints the spend ledger's sums.
public enum UsageFormat {
    public static func json(_ report: UsageReport, since: Timestamp, by grouping: UsageReport.Grouping?) -> String {
        var object = JSONObject()
        object["since"] = .string(since.iso8601)
        object["by"] = .optional(grouping?.rawValue)
        object["groups"] = .array(report.rows.map(rowJSON))
        object["total"] = rowJSON(report.total)
        return JSONWriter().string(.object(object))
    }

    private static func rowJSON(_ row: UsageReport.Row) -> JSONValue {
        .object(
            JSONObject([
                "key": .string(row.key),
                "generations": .int(Int64(row.generations)),
                "completed": .int(Int64(row.completed)),
                "failed": .int(Int64(row.failed)),
                "in_flight": .int(Int64(row.inFlight)),
                "usd_spent": .number(JSONNumber(row.usdSpent)),
                "credits_used": .number(JSONNumber(row.creditsUsed)),
                "in_flight_estimate_usd": .number(JSONNumber(row.inFlightEstimateUSD)),
            ])
        )
    }

    public static func text(
        _ report: UsageReport,
        since: Timestamp,
        by grouping: UsageReport.Grouping?,
        style: TerminalColors
    ) -> String {
        var table = TextTable(headers: [
            (grouping?.rawValue ?? "").uppercased(), "GENERATIONS", "COMPLETED", "FAILED", "IN FLIGHT", "USD", "CREDITS",
        ])
        for row in report.rows + [report.total] {
            table.append([
                row.key, "\(row.generations)", "\(row.completed)", "\(row.failed)",
                row.inFlight > 0 ? "\(row.inFlight) (~\(BudgetLimit.dollars(row.inFlightEstimateUSD)))" : "0",
                money(row.usdSpent), "\(Int64(row.creditsUsed.rounded()))",
            ])
        }
        return "since \(since.iso8601)\n" + table.render(style: style)
    }

    /// Dollars to the tenth of a cent (a generation can cost less than a cent).
    static func money(_ usd: Double) -> String {
        let mills = Int64((usd * 1000).rounded())
        let fraction = mills % 1000
        let padded = fraction < 10 ? "00\(fraction)" : fraction < 100 ? "0\(fraction)" : "\(fraction)"
        return "$\(mills / 1000).\(padded)"
    }
}
