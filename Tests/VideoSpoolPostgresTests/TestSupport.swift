#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolPostgres
import VideoSpoolStore
import VideoSpoolTesting

/// Skips PostgreSQL tests only when asked to (`VIDEOSPOOL_SKIP_POSTGRES_TESTS=1`); without a server
/// they fail, saying what to install.
let postgresAvailable = ConditionTrait.enabled(if: !PostgresTestServer.skipRequested, "VIDEOSPOOL_SKIP_POSTGRES_TESTS=1")

/// 2026-11-25T09:23:13.123Z, an arbitrary "now" with a millisecond part.
let referenceTime = Timestamp(millisecondsSinceEpoch: 1_795_598_593_123)

let seedanceModel = "bytedance/dreamina-seedance-2-0-mini"

/// The app clock of the tests' stores: fixed, so that timestamps that are data compare exactly.
let fixedClock: @Sendable () -> Timestamp = { referenceTime }

/// The system's wall clock.
let systemClock: @Sendable () -> Timestamp = {
    Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
}

func spoolInstance(_ spool: String = "spool-a", pid: Int32 = 100) -> InstanceDescription {
    InstanceDescription(host: "host-\(pid)", pid: pid, version: "test", spoolID: spool)
}

/// A store configuration for `database` on `server`'s socket.
func storeConfiguration(
    _ server: PostgresTestServer,
    database: String,
    lease: Duration = .seconds(15),
    grace: Duration = .seconds(120),
    listen: Bool = false,
    statementTimeout: Duration = .seconds(30),
    maximumConnections: Int = 4
) -> PostgresStoreConfiguration {
    PostgresStoreConfiguration(
        endpoint: .unixSocket(path: server.socketPath),
        username: PostgresTestServer.superuser,
        database: database,
        leaseDuration: lease,
        submitGrace: grace,
        listen: listen,
        maximumConnections: maximumConnections,
        statementTimeout: statementTimeout
    )
}

/// Runs stores (their pools) for a test, and stops them all at its end.
final class StoreRunner: Sendable {
    let server: PostgresTestServer
    let database: String
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(server: PostgresTestServer, database: String) {
        self.server = server
        self.database = database
    }

    /// A running, migrated store on the test's database.
    func store(
        _ configuration: PostgresStoreConfiguration? = nil,
        spoolID: String? = "spool-a",
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        clock: @escaping @Sendable () -> Timestamp = fixedClock,
        migrate: Bool = true
    ) async throws -> PostgresJobStore {
        let store = try PostgresJobStore(
            configuration: configuration ?? storeConfiguration(server, database: database),
            spoolID: spoolID,
            logger: logger,
            clock: clock
        )
        start(store)
        if migrate { try await store.migrate() }
        return store
    }

    /// Runs a store made by the test itself until the test ends.
    func start(_ store: PostgresJobStore) {
        let task = Task<Void, Never> { try? await store.run() }
        tasks.withLock { $0.append(task) }
    }

    /// A running store registered as an instance of `spool`.
    func registeredStore(
        _ configuration: PostgresStoreConfiguration? = nil,
        spool: String = "spool-a",
        pid: Int32 = 100,
        clock: @escaping @Sendable () -> Timestamp = fixedClock
    ) async throws -> PostgresJobStore {
        let store = try await self.store(configuration, spoolID: spool, clock: clock)
        _ = try await store.register(spoolInstance(spool, pid: pid), replacing: nil)
        return store
    }

    func stop() async {
        let running = tasks.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in running { task.cancel() }
        for task in running { await task.value }
    }

    /// SQL as the superuser, against the test's database.
    @discardableResult
    func sql(_ text: String) throws -> String {
        try server.psql(text, database: database)
    }
}

/// Runs `body` with a fresh database on the shared cluster; every store it starts stops afterwards.
func withDatabase<Result>(
    server: PostgresTestServer? = nil,
    _ body: (StoreRunner) async throws -> Result
) async throws -> Result {
    let server = if let server { server } else { try await PostgresTestServer.shared() }
    let runner = StoreRunner(server: server, database: try server.createDatabase())
    do {
        let result = try await body(runner)
        await runner.stop()
        return result
    } catch {
        await runner.stop()
        throw error
    }
}

/// Runs `body` with a fresh directory under the system's temporary directory, removed afterwards.
func withTemporaryDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    var template = Array((FileManager.default.temporaryDirectory.path + "/videospool-parity.XXXXXX").utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in mkdtemp(buffer.baseAddress!) != nil }
    guard made else { throw CocoaError(.fileWriteUnknown) }
    let path = template.withUnsafeBufferPointer { buffer in String(cString: buffer.baseAddress!) }
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// What `body` did: returned, or threw.
func attempt(_ body: @Sendable () async throws -> Void) async -> Result<Void, any Error> {
    do {
        try await body()
        return .success(())
    } catch {
        return .failure(error)
    }
}

/// Counts what a stream yields, from a task of its own, until stopped.
final class Counter: Sendable {
    private let count = Mutex(0)
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(_ stream: AsyncStream<Void>) {
        let task = Task { [weak self] in
            for await _ in stream { self?.increment() }
        }
        self.task.withLock { $0 = task }
    }

    private func increment() { count.withLock { $0 += 1 } }

    var value: Int { count.withLock { $0 } }

    func stop() { task.withLock { $0?.cancel() } }
}

/// The first element of `stream` within `deadline`, or `nil`.
func first<Element: Sendable>(of stream: AsyncStream<Element>, within deadline: Duration) async -> Element? {
    await withTaskGroup(of: Element?.self) { group in
        group.addTask {
            var iterator = stream.makeAsyncIterator()
            return await iterator.next()
        }
        group.addTask {
            try? await Task.sleep(for: deadline)
            return nil
        }
        let result = await group.next() ?? nil
        group.cancelAll()
        return result
    }
}

// MARK: - Jobs

func json(_ text: String) throws -> JSONValue {
    try JSONParser().parse(text)
}

func number(_ text: String) throws -> JSONNumber {
    try #require(try json(text).numberValue)
}

/// A queued job with every insert-time field set to something that would show a lossy round trip.
func makeJob(_ id: String, phase: JobPhase = .queued, acceptedAt: Timestamp = referenceTime) throws -> Job {
    let metadata = try #require(
        try json(
            #"{"customer":"acme","order":1.50,"tags":["b","a"],"nested":{"ok":true,"none":null},"note":"é ✓ \"quoted\"\n"}"#
        ).objectValue
    )
    return Job(
        id: try #require(JobID(id)),
        phase: phase,
        model: seedanceModel,
        callbackURLs: ["https://hooks.example.com/video?token=abc", "https://second.example.org/hook"],
        metadata: metadata,
        acceptedAt: acceptedAt,
        sourceName: id + ".json",
        parameters: GenerationParameters(resolution: "720p", durationSeconds: 5)
    )
}

func requestBody(for id: String) -> [UInt8] {
    Array(#"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"\#(id)","duration":5}"#.utf8)
}

func source(for job: Job, identity: String? = nil) -> SourceFile {
    SourceFile(name: job.sourceName, sha256: String(repeating: "ab", count: 32), disposition: .remove, identity: identity)
}

func insert(_ job: Job, identity: String? = nil) -> StoreChange {
    .insertJob(job, requestBody: requestBody(for: job.id.rawValue), source: source(for: job, identity: identity))
}

/// A webhook event whose body is not valid UTF-8, so only an exact byte round trip passes.
func makeEvent(for job: Job, id: String? = nil, type: WebhookEvent.EventType = .completed) -> WebhookEvent {
    WebhookEvent(
        id: id ?? "msg_" + job.id.rawValue,
        jobID: job.id,
        type: type,
        createdAt: referenceTime + .seconds(60),
        body: Array(#"{"type":"\#(type)","job_id":"\#(job.id)"}"#.utf8) + [0x00, 0xFF, 0xFE, 0x0A]
    )
}

func makeDeliveries(for event: WebhookEvent, urls: [String], fence: Int64 = 0) -> [Delivery] {
    urls.enumerated().map { index, url in
        var delivery = Delivery(
            id: Delivery.ID(eventID: event.id, index: index),
            jobID: event.jobID,
            url: url,
            nextAttemptAt: event.createdAt
        )
        delivery.fence = fence
        return delivery
    }
}

/// A job that has finished with a video, as the poller would leave it.
func completed(_ job: Job) throws -> Job {
    var job = job
    job.phase = .completed
    job.submitAttempts = 1
    job.submittedAt = referenceTime + .seconds(1)
    job.generationID = "gen-" + job.id.rawValue
    job.polls = 4
    job.nextActionAt = nil
    job.finishedAt = referenceTime + .seconds(60)
    job.videoURL = "https://cdn.example.com/videos/\(job.id).mp4?sig=xyz"
    job.usage = Usage(creditsUsed: try number("120000"), usdSpent: try number("0.06"))
    return job
}

/// `job` in `submitting`, its first POST about to be sent.
func submitting(_ job: Job) -> Job {
    var job = job
    job.phase = .submitting
    job.submitAttempts += 1
    job.nextActionAt = nil
    return job
}
