import Foundation
public import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolStore

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

    public static func list(stateDirectory: String, state: JobState?, limit: Int, json: Bool, colors: TerminalColors) async throws -> String {
        let store = try open(stateDirectory)
        let jobs = try await read(stateDirectory) { try await store.jobSummaries(in: state, limit: limit) }
        return json ? JobReportFormat.listJSON(jobs) : JobReportFormat.listText(jobs, now: now(), style: colors)
    }

    public static func show(stateDirectory: String, id: JobID, json: Bool, colors: TerminalColors) async throws -> String {
        let store = try open(stateDirectory)
        guard let report = try await read(stateDirectory, { try await store.jobReport(id) }) else { throw Failure.noJob(id) }
        return json ? JobReportFormat.showJSON(report) : JobReportFormat.showText(report, now: now(), style: colors)
    }

    /// Opened read-only: WAL readers never block the daemon's writer, and nothing is migrated.
    private static func open(_ directory: String) throws -> SQLiteJobStore {
        let path = directory + "/videospool.sqlite"
        guard FileManager.default.fileExists(atPath: path) else { throw Failure.noStore(path) }
        do {
            return try SQLiteJobStore(directory: directory, readOnly: true)
        } catch {
            throw Failure.unreadable(path, error)
        }
    }

    private static func read<T>(_ directory: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw Failure.unreadable(directory + "/videospool.sqlite", error)
        }
    }
}
