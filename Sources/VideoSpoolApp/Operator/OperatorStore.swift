import Foundation
import Logging
import VideoSpoolCore
import VideoSpoolPostgres
import VideoSpoolStore

/// The job store as a command opens it, on either backend: SQLite read-only from
/// `state.directory`, or the shared PostgreSQL store (its password resolved as the daemon's is).
enum OperatorStore {
    /// Runs `body` with the store's reports (`list`, `show`); nothing is written or migrated.
    static func withReports<Result: Sendable>(
        settings: DaemonSettings,
        environment: [String: String],
        _ body: @escaping @Sendable (any JobReports) async throws -> Result
    ) async throws -> Result {
        guard let configuration = try Credentials.postgresql(settings: settings, environment: environment) else {
            let path = settings.stateDirectory + "/videospool.sqlite"
            guard FileManager.default.fileExists(atPath: path) else { throw OperatorViews.Failure.noStore(path) }
            let store: SQLiteJobStore
            do {
                store = try SQLiteJobStore(directory: settings.stateDirectory, readOnly: true)
            } catch {
                throw OperatorViews.Failure.unreadable(path, error)
            }
            return try await body(store)
        }
        let store = try PostgresJobStore(configuration: configuration, logger: quietLogger)
        return try await running(store) { try await body(store) }
    }

    /// Runs `body` with a store to change, for a command carried out without a daemon: SQLite (the
    /// caller holds the lock), or the shared store under a short-lived instance of this command,
    /// registered first and given back after (so operator changes are fenced like a daemon's).
    static func withStore<Result: Sendable>(
        settings: DaemonSettings,
        environment: [String: String],
        _ body: @escaping @Sendable (any JobStore) async throws -> Result
    ) async throws -> Result {
        guard let configuration = try Credentials.postgresql(settings: settings, environment: environment) else {
            return try await body(try SQLiteJobStore(directory: settings.stateDirectory))
        }
        let spoolID = try SpoolIdentity.read(spoolDirectory: settings.spoolDirectory)
        let store = try PostgresJobStore(configuration: configuration, spoolID: spoolID, logger: quietLogger)
        return try await running(store) {
            _ = try await store.register(
                InstanceDescription(
                    host: ProcessInfo.processInfo.hostName,
                    pid: getpid(),
                    version: "\(Daemon.version) (command)",
                    spoolID: spoolID
                ),
                replacing: nil
            )
            do {
                let result = try await body(store)
                try await store.releaseOwnership()
                return result
            } catch {
                try? await store.releaseOwnership()
                throw error
            }
        }
    }

    private static func running<Result: Sendable>(
        _ store: PostgresJobStore,
        _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    private static var quietLogger: Logger {
        var logger = Logger(label: "videospool")
        logger.logLevel = .critical
        return logger
    }
}
