import Foundation
import Logging
import VideoSpoolCore
import VideoSpoolSimulator

/// A spool, a state directory and a configuration for one daemon under test.
struct BenchWorkspace {
    static let apiKey = "bench-key"
    static let webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    let root: String
    var incoming: String { root + "/spool/incoming" }
    var config: String { root + "/videospool.yaml" }

    init(name: String) throws {
        root = FileManager.default.temporaryDirectory.path + "/videospool-bench-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: incoming, withIntermediateDirectories: true)
    }

    /// Writes the configuration: defaults, except what pointing at a local simulator needs and
    /// what the scenario names in `api` (YAML lines under `api:`).
    ///
    /// - Parameter results: YAML lines under `results:`; by default downloads are off.
    func configure(port: Int, api: String = "", state: String = "", results: String? = nil, extra: String = "") throws {
        let text = """
            spool:
              directory: \(root)/spool
            state:
              directory: \(root)/state
            \(state.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            api:
              base_url: http://127.0.0.1:\(port)
            \(api.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            webhooks:
              allow_private_networks: true
            results:
            \((results ?? Self.withoutDownloads).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            \(extra)
            """
        try text.write(toFile: config, atomically: true, encoding: .utf8)
    }

    /// The pipeline measured without storing videos (the scenarios' simulated links are not fetched).
    static let withoutDownloads = "download: false"

    func start(binary: String, environment: [String: String] = [:]) throws -> DaemonUnderTest {
        try DaemonUnderTest(
            binary: binary,
            config: config,
            logPath: root + "/daemon.log",
            environment: ["AIMLAPI_API_KEY": Self.apiKey, "VIDEOSPOOL_WEBHOOK_SECRET": Self.webhookSecret]
                .merging(environment) { _, extra in extra }
        )
    }

    static func request(_ index: Int, port: Int) -> String {
        """
        {"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": "bench \(index)", "duration": 5,
         "resolution": "720p", "job_id": "bench-\(index)", "callback_url": "http://127.0.0.1:\(port)/webhooks/bench"}
        """
    }

    /// Drops a request the documented way: a dot-name, then rename(2).
    func drop(_ index: Int, port: Int) throws {
        let temporary = "\(incoming)/.bench-\(index).tmp"
        try Self.request(index, port: port).write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, "\(incoming)/bench-\(index).json") == 0 else {
            throw BenchError("rename into \(incoming) failed: \(String(cString: strerror(errno)))")
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The job index a prompt or a job id ends with.
    static func index(of text: String) -> Int? {
        text.split(whereSeparator: { $0 == " " || $0 == "-" }).last.flatMap { Int($0) }
    }

    static func simulator(generation: GenerationTimeModel, queued: Duration = .zero) -> Simulator {
        Simulator(
            configuration: SimulatorConfiguration(
                apiKey: apiKey,
                queuedTime: queued,
                generationTime: generation,
                // No signature check: the receiver's CPU would compete with the daemon's, and the
                // signatures are proven elsewhere (the test suite checks them with an independent verifier).
                webhookSecret: nil
            ),
            logger: Logger(label: "bench.simulator", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }
}
