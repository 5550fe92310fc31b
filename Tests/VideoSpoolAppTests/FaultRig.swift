import Foundation
import Hummingbird
import Logging
import Synchronization
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolRuntime
import VideoSpoolSimulator
import VideoSpoolTesting

/// What `UpstreamFaultTests` and `ReceiverFaultTests` share: one real daemon (file system spool,
/// SQLite store, AsyncHTTPClient) against one simulator on loopback, with settings small enough
/// that a fault case takes well under a second or two.
struct FaultRig: Sendable {
    static let apiKey = "test-key"
    /// The retry schedule for webhooks in these suites: attempts at 0, +0.05, +0.1, +0.2 s (±20 %).
    static let webhookSchedule = [0.05, 0.1, 0.2]

    let root: String
    let simulator: Simulator
    let port: Int
    /// The daemon's log as an awaitable stream: for effects nothing on the wire shows, such as a
    /// retry against a closed port or a delivery given up.
    let log = LogRecording()
    let settings: DaemonSettings

    init(root: String, simulator: Simulator, port: Int, configure: (inout DaemonSettings) -> Void = { _ in }) {
        self.root = root
        self.simulator = simulator
        self.port = port
        var settings = DaemonIntegrationTests.settings(root: root, port: port)
        settings.webhookRetryScheduleSeconds = Self.webhookSchedule
        configure(&settings)
        self.settings = settings
    }

    /// A simulator whose generations finish about 0.12 s after submission.
    static func simulator() -> Simulator {
        DaemonIntegrationTests.simulator(generation: .milliseconds(100), key: apiKey)
    }

    /// A loopback URL on the simulator's receiver.
    func hook(_ path: String, host: String = "127.0.0.1") -> String {
        "http://\(host):\(port)\(path)"
    }

    /// Runs a daemon while `body` runs, then stops it gracefully: in-flight requests and delivery
    /// attempts finish and outcome files are flushed before this returns.
    ///
    /// Two backoffs are not configuration keys: submission retries start at 2 s and failed polls
    /// at 5 s. They are shortened to 50 ms through the hook a configuration reload uses, so a case
    /// with two retries does not take fifteen seconds. Everything else is the daemon as configured.
    func run<Result: Sendable>(
        key: String = FaultRig.apiKey,
        _ body: @escaping @Sendable (Daemon) async throws -> Result
    ) async throws -> Result {
        let daemon = try Daemon.make(
            settings: settings,
            credentials: Credentials(apiKey: key, webhookSecret: DaemonIntegrationTests.secret),
            logger: log.logger(level: .debug)
        )
        var policy = daemon.pipeline.context.policy
        policy.submitBackoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(400))
        policy.poll.failureBackoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(400))
        daemon.pipeline.context.updatePolicy(policy)
        return try await daemon.run(while: body)
    }

    /// A request file's text: the docs' shape with an explicit job id and callback list.
    static func request(prompt: String, jobID: String, callbacks: [String]) -> String {
        let urls = callbacks.map { "\"\($0)\"" }.joined(separator: ", ")
        return """
            {"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "\(prompt)", "duration": 5,
             "job_id": "\(jobID)", "callback_urls": [\(urls)], "metadata": {"case": "\(prompt)"}}
            """
    }

    /// Writes a request under a dot-name and renames it into `incoming/`, as docs/requests.md says to.
    static func drop(_ text: String, jobID: String, into daemon: Daemon) throws {
        try DaemonIntegrationTests.drop(text, as: jobID + ".json", into: daemon.spool.incoming)
    }

    // MARK: - Outcome files

    struct Outcome {
        /// `done` or `failed`.
        let directory: String
        let document: JSONValue

        var deliveries: [JSONValue] { document["deliveries"]?.arrayValue ?? [] }
        var type: String? { document["type"]?.stringValue }
        var errorCode: String? { document["data"]?["error"]?["code"]?.stringValue }
    }

    /// The job's outcome file, from `done/` or `failed/` (exactly one of them must have it).
    func outcome(_ jobID: String) throws -> Outcome {
        var found: [Outcome] = []
        for directory in ["done", "failed"] {
            let path = "\(root)/spool/\(directory)/\(jobID).json"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            found.append(Outcome(directory: directory, document: try JSONParser().parse(bytes)))
        }
        return try #require(found.count == 1 ? found.first : nil, "one outcome file for \(jobID), found \(found.count)")
    }

    // MARK: - Time

    /// Parses the outcome files' `2026-11-25T10:13:09.871Z`.
    static func instant(_ value: JSONValue?) -> Date? {
        guard let text = value?.stringValue else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    /// What a receiver-side observer can be late by: the gap between two arrivals is measured
    /// where the test's task sees them, not inside the server.
    static let observationSlack = 0.01
}

/// Items of a stream with the time the test saw each, collected by a task of their own from
/// before anything happens until ``finish()``.
final class StampedRecording<Element: Sendable>: Sendable {
    struct Stamped: Sendable {
        let element: Element
        let at: ContinuousClock.Instant
    }

    private final class Items: Sendable {
        let list = Mutex<[Stamped]>([])
    }

    private let items = Items()
    private let task: Task<Void, Never>

    init(_ stream: AsyncStream<Element>) {
        let items = self.items
        task = Task {
            for await element in stream {
                let stamped = Stamped(element: element, at: .now)
                items.list.withLock { $0.append(stamped) }
            }
        }
    }

    /// Stops recording; returns what was seen.
    func finish() async -> [Stamped] {
        task.cancel()
        await task.value
        return items.list.withLock { $0 }
    }
}

