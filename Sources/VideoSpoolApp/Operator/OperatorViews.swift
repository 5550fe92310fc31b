import Foundation
public import VideoSpoolCore
import VideoSpoolRuntime

/// The read-only operator commands (`list`, `show`) end to end, so the executable stays thin.
public enum OperatorViews {
    public enum Failure: Error, CustomStringConvertible {
        case noStore(String)
        case unreadable(String, any Error)
        case noJob(JobID)

        public var description: String {
            switch self {
            case .noStore(let path): "no job store at \(path) (has the daemon run with this state.directory?)"
            case .unreadable(let path, let error): "cannot read the job store at \(path): \(error)"
            case .noJob(let id): "no job \(id)"
            }
        }
    }

    public static func now() -> Timestamp { SystemTimeSource().now() }

    /// The most jobs `videospool list` shows at once. A list is for looking at (and builds its
    /// whole output in memory); larger sets are for `--state` filters or the store itself.
    public static let maximumListLimit = 10_000

    /// Why `limit` is refused, or `nil` when it is fine.
    public static func listLimitProblem(_ limit: Int) -> String? {
        (1...maximumListLimit).contains(limit)
            ? nil : "--limit must be between 1 and \(maximumListLimit) (the most jobs list shows at once); got \(limit)"
    }

    public static func list(
        settings: DaemonSettings,
        environment: [String: String],
        state: JobState?,
        limit: Int,
        json: Bool,
        colors: TerminalColors
    ) async throws -> String {
        let jobs = try await read(settings) {
            try await OperatorStore.withReports(settings: settings, environment: environment) { store in
                try await store.jobSummaries(in: state, limit: limit)
            }
        }
        return json ? JobReportFormat.listJSON(jobs) : JobReportFormat.listText(jobs, now: now(), style: colors)
    }

    public static func show(
        settings: DaemonSettings,
        environment: [String: String],
        id: JobID,
        json: Bool,
        colors: TerminalColors
    ) async throws -> String {
        let report = try await read(settings) {
            try await OperatorStore.withReports(settings: settings, environment: environment) { store in
                try await store.jobReport(id)
            }
        }
        guard let report else { throw Failure.noJob(id) }
        return json ? JobReportFormat.showJSON(report) : JobReportFormat.showText(report, now: now(), style: colors)
    }

    /// `videospool usage`: the spend ledger since `since`, added up (`budget.credits_per_usd`
    /// converts credits where the API reported no dollars).
    public static func usage(
        settings: DaemonSettings,
        environment: [String: String],
        since: Timestamp,
        by grouping: UsageReport.Grouping?,
        json: Bool,
        colors: TerminalColors
    ) async throws -> String {
        let entries = try await read(settings) {
            try await OperatorStore.withReports(settings: settings, environment: environment) { store in
                try await store.spendEntries(since: since)
            }
        }
        let report = UsageReport(entries: entries, by: grouping, creditsPerUSD: settings.budget.creditsPerUSD)
        return json
            ? UsageFormat.json(report, since: since, by: grouping)
            : UsageFormat.text(report, since: since, by: grouping, style: colors)
    }

    private static func read<T>(_ settings: DaemonSettings, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as Failure {
            throw failure
        } catch let error as ConfigurationError {
            throw error
        } catch {
            let place =
                settings.storeBackend == .postgresql
                ? "the shared store" : settings.stateDirectory + "/videospool.sqlite"
            throw Failure.unreadable(place, error)
        }
    }
}
