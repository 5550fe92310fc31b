import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolPostgres
import VideoSpoolTesting

/// The throwaway cluster the store tests run against.
@Suite(.timeLimit(.minutes(2)), postgresAvailable)
struct PostgresTestServerTests {
    @Test func aPrivateClusterStartsStopsAndStartsAgainWithItsData() throws {
        let server = try PostgresTestServer.start()
        print("throwaway cluster started in \(server.startDuration)")
        let database = try server.createDatabase()
        try server.psql("CREATE TABLE kept (value text); INSERT INTO kept VALUES ('still here')", database: database)
        try server.stop()
        #expect(throws: (any Error).self) { try server.psql("SELECT 1") }
        try server.start()
        #expect(try server.psql("SELECT value FROM kept", database: database) == "still here")
        try server.stop()
    }

    /// The benchmark's cluster commits to the disk like a production server (it is compared with
    /// SQLite's synchronous commits); the tests' clusters do not.
    @Test func aDurableClusterKeepsFsyncAndSynchronousCommitOnTheDisk() throws {
        let durable = try PostgresTestServer.start(durable: true)
        defer { try? durable.stop() }
        #expect(try durable.psql("SHOW fsync") == "on")
        #expect(try durable.psql("SHOW synchronous_commit") == "on")
        #expect(try durable.psql("SHOW full_page_writes") == "on")
        #expect(durable.directory.hasPrefix("/tmp/"), "on the disk, not in memory: \(durable.directory)")
        let quick = try PostgresTestServer.start()
        defer { try? quick.stop() }
        #expect(try quick.psql("SHOW fsync") == "off")
        #expect(try quick.psql("SHOW synchronous_commit") == "off")
    }

    @Test func eachTestGetsAnEmptyDatabaseOfItsOwn() async throws {
        let server = try await PostgresTestServer.shared()
        let first = try server.createDatabase()
        let second = try server.createDatabase()
        #expect(first != second)
        try server.psql("CREATE TABLE mine (value int)", database: first)
        #expect(try server.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'mine'", database: second) == "0")
        #expect(server.tcp, "the shared cluster also listens on 127.0.0.1")
    }

    @Test func withoutServerBinariesTheErrorSaysWhatToInstall() throws {
        let error = try #require(throws: PostgresTestServerError.self) {
            try PostgresTestServer.locateBinaries(environment: [:], root: "/nonexistent/postgresql")
        }
        #expect(error.description.contains("'postgresql' package"))
        #expect(error.description.contains("VIDEOSPOOL_SKIP_POSTGRES_TESTS=1"))
        let configured = try #require(throws: PostgresTestServerError.self) {
            try PostgresTestServer.locateBinaries(environment: ["VIDEOSPOOL_POSTGRES_BIN": "/nonexistent/bin"])
        }
        #expect(configured.description.contains("/nonexistent/bin"))
    }
}

/// Commits on the local cluster (unix socket): all land; the median latency is printed.
@Suite(.timeLimit(.minutes(3)), postgresAvailable)
struct CommitLatencyTests {
    @Test func sequentialCommitsAllLand() async throws {
        try await withDatabase { runner in
            let store = try await runner.registeredStore()
            var latencies: [Duration] = []
            let count = 500
            for index in 0..<count {
                let job = try makeJob(String(format: "job-latency-%04d", index))
                let started = ContinuousClock.now
                try await store.commit([insert(job)])
                latencies.append(ContinuousClock.now - started)
            }
            #expect(try runner.sql("SELECT count(*) FROM videospool.jobs") == "\(count)")
            latencies.sort()
            print(
                "commit latency over \(count) sequential commits (one insertJob each): median \(latencies[count / 2]), "
                    + "p90 \(latencies[count * 9 / 10]), max \(latencies[count - 1])"
            )
        }
    }
}
