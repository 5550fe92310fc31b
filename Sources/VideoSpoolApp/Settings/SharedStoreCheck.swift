import Logging
public import VideoSpoolPostgres

/// What `videospool check-config` finds of the shared store: an unreachable database is not a
/// configuration error (the daemon waits for it at start), but one that refuses the configuration
/// (password, role, database, TLS) or has a newer schema is.
public enum SharedStoreCheck: Sendable {
    /// Connected; the store's schema is at `version` (0: not created yet; the daemon migrates it).
    case reachable(schemaVersion: Int, known: Int)
    /// Could not connect or got no answer in time: a warning.
    case unreachable(String)

    /// Connects with `configuration` for at most `timeout` and reads the schema version.
    ///
    /// - Throws: ``ConfigurationError`` when the database refuses this configuration or its schema
    ///   is newer than this build.
    public static func check(
        _ configuration: PostgresStoreConfiguration,
        timeout: Duration = .seconds(5)
    ) async throws(ConfigurationError) -> SharedStoreCheck {
        let outcome: Result<Int?, any Error>
        do {
            let store = try PostgresJobStore(
                configuration: configuration,
                logger: Logger(label: "videospool.check", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            outcome = await withTaskGroup(of: Result<Int?, any Error>?.self) { group in
                group.addTask {
                    try? await store.run()
                    return nil
                }
                group.addTask { .success(try? await Self.firstVersion(of: store)) }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return .success(nil)
                }
                var result: Result<Int?, any Error> = .success(nil)
                while let next = await group.next() {
                    if let next {
                        result = next
                        break
                    }
                }
                group.cancelAll()
                return result
            }
        } catch {
            throw ConfigurationError(key: "state.postgresql.url", "\(error)")
        }
        switch outcome {
        case .success(let version?):
            guard version <= PostgresJobStore.knownSchemaVersion else {
                throw ConfigurationError(
                    key: "state.postgresql.url",
                    "the database's videospool schema is version \(version); this videospool knows up to "
                        + "\(PostgresJobStore.knownSchemaVersion) (upgrade videospool)"
                )
            }
            return .reachable(schemaVersion: version, known: PostgresJobStore.knownSchemaVersion)
        case .success(nil):
            return .unreachable("no answer from \(configuration) within \(timeout)")
        case .failure(let error):
            throw ConfigurationError(key: "state.postgresql.url", "\(error)")
        }
    }

    /// The schema version, retrying while the database cannot be reached (the caller's timeout
    /// ends that); an error that waiting cannot mend ends it at once.
    private static func firstVersion(of store: PostgresJobStore) async throws -> Int {
        while true {
            do {
                return try await store.schemaVersion()
            } catch where PostgresJobStore.isUnavailable(error) {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}
