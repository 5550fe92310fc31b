import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolPostgres
import VideoSpoolStore
import VideoSpoolTesting

/// The two job store backends, for tests that run the same thing on both.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgresql

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh store of this backend (registered, on PostgreSQL, as the only
    /// instance of spool `spool-a`), and cleans up afterwards.
    func withStore<Result>(
        clock: @escaping @Sendable () -> Timestamp = fixedClock,
        _ body: (BackendStore) async throws -> Result
    ) async throws -> Result {
        switch self {
        case .sqlite:
            return try await withTemporaryDirectory { directory in
                let store = BackendStore(store: try SQLiteJobStore(directory: directory, clock: clock)) { _ in
                    let reopened = try SQLiteJobStore(directory: directory, clock: clock)
                    return (reopened, try await reopened.recover())
                }
                return try await body(store)
            }
        case .postgresql:
            return try await withDatabase { runner in
                let first = try await runner.registeredStore(clock: clock)
                let store = BackendStore(store: first) { previous in
                    // A restart: a new process replaces the old instance and takes what it held.
                    let old = previous as! PostgresJobStore
                    let restarted = try await runner.store(clock: clock)
                    _ = try await restarted.register(spoolInstance(), replacing: old.instanceID)
                    return (restarted, try await restarted.recover())
                }
                return try await body(store)
            }
        }
    }
}

/// A backend's store as a scenario sees it: the store, and a restart that returns what the new
/// process recovers.
final class BackendStore: @unchecked Sendable {
    private(set) var store: any JobStore & JobReports
    private let reopen: (any JobStore & JobReports) async throws -> (any JobStore & JobReports, RecoveredState)

    init(
        store: any JobStore & JobReports,
        reopen: @escaping (any JobStore & JobReports) async throws -> (any JobStore & JobReports, RecoveredState)
    ) {
        self.store = store
        self.reopen = reopen
    }

    /// Stops the store as a crash would and starts it again; what it recovered.
    func restart() async throws -> RecoveredState {
        let (store, recovered) = try await reopen(store)
        self.store = store
        return recovered
    }

    func commit(_ changes: [StoreChange]) async throws {
        try await store.commit(changes)
    }
}
