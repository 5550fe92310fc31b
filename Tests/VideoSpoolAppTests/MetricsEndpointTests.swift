import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolSimulator
import VideoSpoolTesting

/// `GET /metrics` from the built binary, read by parsers not written here: `promtool check
/// metrics` (Debian's prometheus) lints the scrape, and prometheus_client's text parser (PyPI)
/// reads the values, which must match what the simulator and the receiver saw.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct MetricsEndpointTests {
    @Test func theRunningDaemonServesMetricsThatAgreeWithWhatTheSimulatorSaw() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let socket = root + "/metrics.sock"
                let config = try EndToEndTests.configure(root: root, port: port, extra: "metrics:\n  listen: \(socket)\n")
                let hook = "http://127.0.0.1:\(port)/webhooks/metrics"
                let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                try await daemon.line { $0.contains("Metrics served") }
                let files = 3
                for index in 0..<files {
                    try EndToEndTests.drop(EndToEndTests.request(tag: "m-\(index)", hook: hook), as: "m-\(index).json", root: root)
                }
                try EndToEndTests.drop(
                    #"{"model": "bytedance/dreamina-seedance-2-0-mini", "prompt": 7, "callback_url": "\#(hook)"}"#,
                    as: "bad.json",
                    root: root
                )
                _ = try await simulator.receiver.subscribe().collect(files + 1)
                // The receiver records a webhook before the daemon hears its answer and counts it.
                var samples: [Sample] = []
                try await eventually("the daemon has counted every webhook attempt") {
                    samples = try Self.parse(try Self.scrape(socket), directory: root)
                    return samples.total("videospool_webhook_attempts_total") == Double(simulator.receiver.received.count)
                }
                let text = try Self.scrape(socket)
                try Self.lint(text)
                samples = try Self.parse(text, directory: root)
                let statistics = simulator.api.statistics
                let model = "bytedance/dreamina-seedance-2-0-mini"

                #expect(samples.value("videospool_jobs_accepted_total", ["model": model]) == Double(files))
                #expect(samples.value("videospool_jobs_rejected_total", ["code": "wrong_type"]) == 1)
                #expect(
                    samples.value("videospool_jobs_finished_total", ["outcome": "completed", "code": "none", "model": model])
                        == Double(files)
                )
                #expect(samples.total("videospool_api_requests_total", ["kind": "submit"]) == Double(statistics.submissions))
                #expect(samples.total("videospool_api_requests_total", ["kind": "poll"]) == Double(statistics.polls))
                #expect(samples.value("videospool_api_request_duration_seconds_count", ["kind": "submit"]) == Double(statistics.submissions))
                #expect(
                    samples.value("videospool_webhook_attempts_total", ["status_class": "2xx"])
                        == Double(simulator.receiver.received.filter { (200..<300).contains($0.answeredStatus) }.count)
                )
                #expect(samples.value("videospool_video_downloads_total", ["outcome": "stored"]) == Double(files))
                #expect(samples.value("videospool_generation_duration_seconds_count", ["model": model, "resolution": "480p", "duration": "5"]) == Double(files))
                #expect(samples.value("videospool_polls_per_job_count", ["model": model]) == Double(files))
                #expect((samples.value("videospool_usd_spent_total", ["model": model]) ?? 0) > 0)
                #expect((samples.value("videospool_credits_used_total", ["model": model]) ?? 0) > 0)
                #expect((samples.value("videospool_store_commit_duration_seconds_count") ?? 0) > 0)
                #expect(samples.value("videospool_store_available") == 1)
                // At zero from the start, so that an alert's increase() sees the first one.
                #expect(samples.value("videospool_webhook_deliveries_given_up_total", ["state": "failed"]) == 0)
                #expect(samples.value("videospool_api_pauses_total", ["loop": "polling"]) == 0)
                #expect(samples.value("videospool_api_paused", ["loop": "submissions"]) == 0)
                #expect(samples.value("videospool_jobs", ["phase": "queued"]) == 0)
                #expect(samples.value("videospool_api_concurrency_limit") == samples.value("videospool_api_concurrency_maximum"))
                #expect((samples.value("process_cpu_seconds_total") ?? 0) > 0)
                #expect((samples.value("process_resident_memory_bytes") ?? 0) > 1_000_000)
                #expect((samples.value("process_open_fds") ?? 0) > 3)
                // Bounded labels: no job id, generation id or URL in any label value.
                let identifiers = Set(simulator.api.generations.map(\.id) + (0..<files).map { "m-\($0)" })
                #expect(identifiers.count == 2 * files)
                for sample in samples {
                    for value in sample.labels.values {
                        #expect(!identifiers.contains(value) && !value.contains("://"), "\(sample)")
                    }
                }

                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0, "clean exit; log:\n\(daemon.logTail)")
                #expect(!FileManager.default.fileExists(atPath: socket), "the socket is removed at the stop")
            }
        }
    }

    @Test func pathsOtherThanMetricsAreNotFound() async throws {
        try await withTemporaryDirectory { root in
            let simulator = EndToEndTests.simulator(generation: .milliseconds(100))
            try await simulator.withRunningServer { port in
                let socket = root + "/metrics.sock"
                let config = try EndToEndTests.configure(root: root, port: port, extra: "metrics:\n  listen: \(socket)\n")
                let daemon = try EndToEndTests.start(config: config, root: root, run: 1)
                try await daemon.line { $0.contains("Metrics served") }
                let (status, _) = try Self.curl(["--silent", "--unix-socket", socket, "-o", "/dev/null", "-w", "%{http_code}", "http://localhost/"])
                #expect(status == "404")
                let (contentType, _) = try Self.curl([
                    "--silent", "--unix-socket", socket, "-o", "/dev/null", "-w", "%{content_type}", "http://localhost/metrics",
                ])
                #expect(contentType == "text/plain; version=0.0.4; charset=utf-8")
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit() == 0)
            }
        }
    }

    @Test func theExampleAlertingRulesPassPromtool() throws {
        let (output, status) = try Self.run("/usr/bin/env", ["promtool", "check", "rules", packageRoot + "/etc/prometheus/videospool-alerts.yml"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("SUCCESS: 5 rules found"), "\(output)")
    }

    @Test func everyExportedMetricIsDocumented() throws {
        let documentation = try String(contentsOfFile: packageRoot + "/docs/metrics.md", encoding: .utf8)
        for name in MetricsHelp.text.keys.sorted() {
            #expect(documentation.contains("`\(name)`"), "docs/metrics.md does not describe \(name)")
        }
    }

    // MARK: - Scraping and parsing

    struct Sample: Sendable, CustomStringConvertible {
        let name: String
        let labels: [String: String]
        let value: Double
        var description: String { "\(name)\(labels) \(value)" }
    }

    static func scrape(_ socket: String) throws -> String {
        let (body, status) = try curl(["--fail", "--silent", "--show-error", "--unix-socket", socket, "http://localhost/metrics"])
        guard status == 0 else { throw ScrapeFailed(message: body) }
        return body
    }

    struct ScrapeFailed: Error { let message: String }

    /// `promtool check metrics` reads the scrape on stdin; any lint problem fails.
    static func lint(_ text: String) throws {
        let input = FileManager.default.temporaryDirectory.path + "/scrape-\(UUID().uuidString).txt"
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: input) }
        let (output, status) = try run("/bin/sh", ["-c", "promtool check metrics < '\(input)'"])
        #expect(status == 0, "promtool check metrics: \(output)")
    }

    /// Every sample, as prometheus_client's parser reads it.
    static func parse(_ text: String, directory: String) throws -> [Sample] {
        let input = directory + "/scrape-\(UUID().uuidString).txt"
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            samples = [{"name": s.name, "labels": s.labels, "value": s.value}
                       for family in text_string_to_metric_families(open(sys.argv[1]).read())
                       for s in family.samples]
            print(json.dumps(samples))
            """
        let pythonPath = ProcessInfo.processInfo.environment["VIDEOSPOOL_PYTHONPATH"] ?? packageRoot + "/.cache/python"
        let (output, status) = try run("/usr/bin/env", ["PYTHONPATH=" + pythonPath, "python3", "-c", script, input])
        guard status == 0 else { throw ScrapeFailed(message: output) }
        struct Decoded: Decodable {
            let name: String
            let labels: [String: String]
            let value: Double
        }
        return try JSONDecoder().decode([Decoded].self, from: Data(output.utf8))
            .map { Sample(name: $0.name, labels: $0.labels, value: $0.value) }
    }

    static func curl(_ arguments: [String]) throws -> (output: String, status: Int32) {
        try run("/usr/bin/env", ["curl"] + arguments)
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (output: String, status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = FileManager.default.temporaryDirectory.path + "/run-\(UUID().uuidString).out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return (try String(contentsOfFile: output, encoding: .utf8), process.terminationStatus)
    }
}

extension [MetricsEndpointTests.Sample] {
    /// The value of the one sample of `name` whose labels include `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = filter { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }
        return matching.count == 1 ? matching[0].value : nil
    }

    /// The sum over every sample of `name` whose labels include `labels`.
    func total(_ name: String, _ labels: [String: String] = [:]) -> Double {
        filter { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }
            .map(\.value).reduce(0, +)
    }
}
