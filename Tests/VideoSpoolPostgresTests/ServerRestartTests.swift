import Logging
import PostgresNIO
import Synchronization
import Testing
import VideoSpoolCore
@testable import VideoSpoolPostgres
import VideoSpoolTesting

/// A restarted server ends every session, and the store must come back from that on its own: no
/// query may wait forever on a connection that is gone, and a lease given up is never used later.
@Suite(.timeLimit(.minutes(3)), postgresAvailable)
struct ServerRestartTests {
    /// postgres-nio loses a query written after its connection closed (the caller would wait
    /// forever); the store's queries refuse a closed connection instead.
    @Test func aQueryOnAClosedConnectionFailsAtOnceAsAnUnavailableDatabase() async throws {
        let server = try await PostgresTestServer.shared()
        let connection = try await PostgresConnection.connect(
            configuration: .init(
                unixSocketPath: server.socketPath,
                username: PostgresTestServer.superuser,
                password: nil,
                database: "postgres"
            ),
            id: 1,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        try await connection.close()
        let error = await #expect(throws: PostgresStoreError.self) {
            try await withTimeout(.seconds(10), waitingFor: "a query on a closed connection to fail") {
                try await connection.openQuery("SELECT 1", logger: Logger(label: "test"))
            }
        }
        #expect(error.map { PostgresJobStore.isUnavailable($0) } == true)
    }

    /// Commits keep landing while the server is restarted under them (`pg_ctl stop -m fast`, then
    /// start): each one lands exactly once, and the store says it recovered.
    @Test func commitsFromManyTasksAllLandThroughAServerRestart() async throws {
        let server = try PostgresTestServer.start()
        defer { try? server.stop() }
        let log = LogRecording()
        try await withDatabase(server: server) { runner in
            let store = try await runner.store(
                storeConfiguration(server, database: runner.database, statementTimeout: .seconds(1)),
                logger: log.logger()
            )
            _ = try await store.register(spoolInstance(), replacing: nil)
            let landed = LandedCount()
            let (progress, report) = AsyncStream.makeStream(of: Int.self)
            let committers = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            for index in 0..<25 {
                                let job = try makeJob("w\(worker)-\(index)")
                                try await store.commit([insert(job)])
                                try await store.commit([.updateJob(submitting(job))])
                                report.yield(landed.increment())
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            // Restart once the commits are in full flow.
            for await count in progress where count >= 40 { break }
            try server.stop()
            try server.start()
            try await withTimeout(.seconds(90), waitingFor: "every commit to land after the restart") {
                try await committers.value
            }
            report.finish()
            #expect(landed.value == 200)
            let phases = try await (0..<8).asyncFlatMap { worker in
                try await (0..<25).asyncMap { try await store.job(try #require(JobID("w\(worker)-\($0)")))?.phase }
            }
            #expect(phases.count == 200 && phases.allSatisfy { $0 == .submitting })
        }
    }

    /// A lease the pool could not grant in time is given up, and its body never runs, even when a
    /// connection frees up later (it would apply a transaction its caller was told had failed).
    @Test func aLeaseGivenUpIsNeverRunWhenAConnectionFreesUpLater() async throws {
        try await withDatabase { runner in
            let store = try await runner.store(
                storeConfiguration(
                    runner.server,
                    database: runner.database,
                    statementTimeout: .milliseconds(300),
                    maximumConnections: 1
                )
            )
            let (held, holding) = AsyncStream.makeStream(of: Void.self)
            let (release, releasing) = AsyncStream.makeStream(of: Void.self)
            let holder = Task {
                try await store.withPooledConnection { _ in
                    holding.yield()
                    for await _ in release { break }
                }
            }
            for await _ in held { break }
            let lateRan = Flag()
            await #expect(throws: PostgresStoreError.self) {
                try await store.withPooledConnection { _ in lateRan.set() }
            }
            releasing.yield()
            try await holder.value
            // The pool's only connection is free again: a new lease gets it, and the given-up one
            // (if it were still queued) would have had it first.
            try await store.withPooledConnection { _ in }
            #expect(!lateRan.isSet)
        }
    }
}

/// A count shared between tasks.
private final class LandedCount: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func increment() -> Int { count.add(1, ordering: .relaxed).newValue }
}

extension Sequence {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }

    fileprivate func asyncFlatMap<T>(_ transform: (Element) async throws -> [T]) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results += try await transform(element) }
        return results
    }
}
