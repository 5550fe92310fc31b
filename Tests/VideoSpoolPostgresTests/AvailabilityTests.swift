import Foundation
import InMemoryLogging
import Logging
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolPostgres
import VideoSpoolTesting

/// A database outage stalls the store's writes, logged once; they complete when it returns.
@Suite(.timeLimit(.minutes(3)), postgresAvailable)
struct UnavailableDatabaseTests {
    @Test func aCommitWaitsWhileTheClusterIsStoppedAndCompletesWhenItIsBack() async throws {
        let server = try PostgresTestServer.start()
        defer { try? server.stop() }
        let log = LogRecording()
        try await withDatabase(server: server) { runner in
            let store = try await runner.store(
                storeConfiguration(server, database: runner.database, statementTimeout: .seconds(1)),
                logger: log.logger()
            )
            _ = try await store.register(spoolInstance(), replacing: nil)
            let job = try makeJob("job-before")
            try await store.commit([insert(job)])

            try server.stop()
            let waiting = try makeJob("job-during")
            let committed = Flag()
            let commit = Task {
                try await store.commit([insert(waiting), .updateJob(submitting(job))])
                committed.set()
            }
            var entries = log.subscribe().makeAsyncIterator()
            while let entry = await entries.next(), entry["event"] != "store.unavailable" {}
            #expect(!committed.isSet, "the commit returned while the database was down")
            // A renewal fails (it cannot know) rather than claiming the lease was lost.
            await #expect(throws: (any Error).self) { try await store.renewLease() }

            try server.start()
            try await commit.value
            #expect(try await store.job(waiting.id) != nil)
            #expect(try await store.job(job.id)?.phase == .submitting)
            let events = log.entries.compactMap { $0["event"] }
            #expect(events.filter { $0 == "store.unavailable" }.count == 1, "\(events)")
            #expect(events.filter { $0 == "store.recovered" }.count == 1, "\(events)")
            #expect(try await store.renewLease() == .renewed(duration: .seconds(15)))
        }
    }
}

/// A one-way flag for tests.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// The database password never reaches a log record or an error's description.
@Suite(.timeLimit(.minutes(2)), postgresAvailable)
struct DatabaseSecretTests {
    static let password = "pw-Sup3r-S3cret-7f3c9a"

    @Test func thePasswordNeverAppearsInErrorsOrLogs() async throws {
        try await withDatabase { runner in
            try runner.sql("CREATE ROLE spool_user LOGIN PASSWORD '\(Self.password)'")
            try runner.sql("GRANT ALL ON DATABASE \(runner.database) TO spool_user")
            try runner.sql("ALTER DATABASE \(runner.database) OWNER TO spool_user")
            try await withTemporaryDirectory { directory in
                let passwordFile = directory + "/postgresql-password"
                try (Self.password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
                let socketDirectory = (runner.server.socketPath as NSString).deletingLastPathComponent
                let logs = InMemoryLogHandler()
                var logger = Logger(label: "secrets", factory: { _ in logs })
                logger.logLevel = .trace

                // The right password, from the file: the store works, and nothing logs it.
                var values = PostgresStoreConfiguration.Values(
                    url: "postgresql://spool_user@/\(runner.database)?host=\(socketDirectory)&port=\(runner.server.port)",
                    passwordFile: passwordFile
                )
                var configuration = try PostgresStoreConfiguration.parse(values)
                #expect(configuration.password == Self.password)
                configuration.statementTimeout = .seconds(2)
                let store = try await runner.store(configuration, logger: logger)
                _ = try await store.register(spoolInstance(), replacing: nil)
                try await store.commit([insert(try makeJob("job-secret"))])
                #expect(!"\(configuration)".contains(Self.password))
                #expect(!String(reflecting: configuration).contains(Self.password))
                var dumped = ""
                dump(configuration, to: &dumped)
                #expect(!dumped.contains(Self.password) && dumped.contains("***"), "\(dumped)")

                // A wrong password in the URL (and none in a file): refused, and said so without it.
                let wrong = "wrong-\(Self.password)"
                values = PostgresStoreConfiguration.Values(
                    url: "postgresql://spool_user:\(wrong)@/\(runner.database)?host=\(socketDirectory)&port=\(runner.server.port)"
                )
                var wrongConfiguration = try PostgresStoreConfiguration.parse(values)
                wrongConfiguration.statementTimeout = .seconds(2)
                let refused = try await runner.store(wrongConfiguration, logger: logger, migrate: false)
                do {
                    _ = try await refused.register(spoolInstance(pid: 2), replacing: nil)
                    Issue.record("a wrong password must be refused")
                } catch {
                    let texts = ["\(error)", String(reflecting: error), error.localizedDescription]
                    for text in texts {
                        #expect(!text.contains(Self.password), "leaked in an error: \(text)")
                    }
                    #expect("\(error)".contains("password authentication failed"), "says why: \(error)")
                }
                // Errors of the configuration itself never show it either.
                do {
                    _ = try PostgresStoreConfiguration.parse(
                        .init(url: "postgresql://spool_user:\(Self.password)@db.example:99999/spool")
                    )
                    Issue.record("a bad port must be refused")
                } catch {
                    #expect(!"\(error)".contains(Self.password), "\(error)")
                    #expect("\(error)".contains("***"))
                }

                let records = logs.entries.map { "\($0)" }
                #expect(!records.isEmpty, "the test must see the store's log records")
                for record in records {
                    #expect(!record.contains(Self.password), "leaked in a log record: \(record)")
                }
            }
        }
    }
}
