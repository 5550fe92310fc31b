import VideoSpoolTesting

/// The job store a test runs the daemon on: the suites that matter most run on both.
enum StoreUnderTest: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite
    case postgresql

    var description: String { rawValue }

    /// The `state:` keys for this backend, after `state.directory` (a fresh database for each call
    /// on PostgreSQL, on the test process's throwaway cluster).
    func stateKeys() async throws -> String {
        switch self {
        case .sqlite:
            return ""
        case .postgresql:
            let server = try await PostgresTestServer.shared()
            let database = try server.createDatabase()
            return """
                  backend: postgresql
                  postgresql:
                    url: "postgresql://\(PostgresTestServer.superuser)@127.0.0.1:\(server.port)/\(database)?sslmode=disable"
                    lease_seconds: 5
                    claim_interval_seconds: 0.2
                    reaper_interval_seconds: 0.5
                    submit_grace_seconds: 2

                """
        }
    }
}
