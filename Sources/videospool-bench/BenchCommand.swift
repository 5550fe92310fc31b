import ArgumentParser
import Foundation
import VideoSpoolTesting

/// `make bench`: the release daemon against the simulator on loopback, measured from /proc.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "videospool-bench",
        abstract: "Measure the videospool daemon: burst, steady, moderate, the cost of one HTTP exchange and of one commit, waiting, idle, the poll schedule, video downloads, and a long history."
    )

    @Option(help: "The daemon binary to measure (build it with `make release`).")
    var daemon = ".build/release/videospool"

    @Option(help: "Where to write the results as JSON.")
    var output = "bench-results.json"

    @Option(
        parsing: .upToNextOption,
        help: "Scenarios to run (\(Self.scenarios.joined(separator: ", ")))."
    )
    var only: [String] = Self.scenarios

    /// Every scenario, in the order they run.
    static let scenarios = [
        "burst", "burst-postgresql", "metrics", "steady", "moderate", "moderate-no-downloads", "http-floor", "store-floor", "waiting", "idle", "polling",
        "download", "history",
    ]

    @Option(help: "Pairs of bursts (metrics off, then on) the metrics scenario runs; it reports the medians.")
    var metricsRounds = 3

    @Option(help: "Where the download scenario stores its videos (32 × 200 MiB; default: the temporary directory); it runs again in /dev/shm if there is room.")
    var downloadDirectory: String?

    @Flag(help: "A tenth of the work, for a quick check of the benchmark itself.")
    var quick = false

    func validate() throws {
        let unknown = only.filter { !Self.scenarios.contains($0) }
        guard unknown.isEmpty else {
            throw ValidationError("unknown scenario \(unknown.joined(separator: ", ")); known: \(Self.scenarios.joined(separator: ", "))")
        }
    }

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: daemon) else {
            throw ValidationError("no daemon binary at \(daemon); run `make release` first")
        }
        let binary = URL(fileURLWithPath: daemon).standardizedFileURL.path
        var results: [ScenarioResult] = []
        func report(_ result: ScenarioResult) {
            results.append(result)
            print(ResultsReport.table([result]), terminator: "")
        }
        let burst = quick ? BurstScenario(preloaded: 1_000, droppedWhileRunning: 100) : BurstScenario()
        var sqliteBurst: ScenarioResult?
        if only.contains("burst") {
            let result = try await burst.run(binary: binary)
            sqliteBurst = result
            report(result)
        }
        if only.contains("burst-postgresql") {
            // The same burst on a PostgreSQL cluster on this machine, started for it and removed after.
            var scenario = burst
            let server = try PostgresTestServer.start(durable: true)
            defer { try? server.stop() }
            scenario.store = .postgresql(server)
            var result = try await scenario.run(binary: binary)
            let settings = try ["fsync", "synchronous_commit", "full_page_writes"].map { "\($0) \(try server.psql("SHOW \($0)"))" }
            result.notes.append("server \(try server.psql("SHOW server_version")) in \(server.directory): \(settings.joined(separator: ", "))")
            if let sqliteBurst, let ratio = Self.throughputRatio(result, to: sqliteBurst) {
                result.add("throughput / SQLite's", ratio, "×", .atLeast(0.5))
            }
            report(result)
        }
        if only.contains("metrics") {
            report(try await MetricsCostScenario(burst: burst, rounds: metricsRounds).run(binary: binary))
        }
        if only.contains("steady") {
            let scenario = quick ? SteadyScenario(seconds: 6) : SteadyScenario()
            report(try await scenario.run(binary: binary))
        }
        // Alone: their CPU is the growth of the benchmark's reaped children's (DaemonUnderTest.stopMeasuringLifetime).
        for downloads in [true, false] {
            let scenario = ModerateScenario(jobs: quick ? 40 : 400, downloads: downloads)
            if only.contains(scenario.name) { report(try await scenario.run(binary: binary)) }
        }
        if only.contains("http-floor") {
            let scenario = quick ? HTTPFloorScenario(exchanges: 400) : HTTPFloorScenario()
            report(try await scenario.run(binary: binary))
        }
        if only.contains("store-floor") {
            let scenario = quick ? StoreFloorScenario(commits: 200, jobs: 40) : StoreFloorScenario()
            report(try await scenario.run())
        }
        // Waiting and idle run side by side: each daemon's CPU and wake-ups are its own, read from
        // /proc, and this saves a minute of the ten `make bench` may take.
        if only.contains("waiting") || only.contains("idle") {
            let waiting = quick ? WaitingScenario(inFlight: 1_000, window: .seconds(12)) : WaitingScenario()
            let idle = quick ? IdleScenario(window: .seconds(6)) : IdleScenario()
            async let waitingResult = only.contains("waiting") ? waiting.run(binary: binary) : nil
            async let idleResult = only.contains("idle") ? idle.run(binary: binary) : nil
            let (first, second) = try await (waitingResult, idleResult)
            for result in [first, second].compactMap({ $0 }) { report(result) }
        }
        if only.contains("polling") {
            for result in PollingScenario(jobs: quick ? 2_000 : 20_000).run() { report(result) }
        }
        if only.contains("download") {
            // The daemon storing videos as shipped (to the disk, before the webhooks).
            let daemonScenario = quick ? DaemonDownloadScenario(downloads: 8, bytes: 20 * 1024 * 1024) : DaemonDownloadScenario()
            report(try await daemonScenario.run(binary: binary))
            // The downloader alone: to the disk, then to tmpfs (without the disk).
            var scenario = quick ? DownloadScenario(downloads: 8, bytes: 20 * 1024 * 1024) : DownloadScenario()
            if let downloadDirectory { scenario.directory = downloadDirectory + "/videospool-bench-download-\(getpid())" }
            report(try await scenario.run(binary: binary))
            if let inMemory = scenario.inMemory() { report(try await inMemory.run(binary: binary)) }
        }
        if only.contains("history") {
            let scenario = quick ? HistoryScenario(finished: 100_000, pruned: 30_000) : HistoryScenario()
            report(try await scenario.run(binary: binary))
        }
        let workspace = FileManager.default.temporaryDirectory.path
        print(
            "\nSummary (machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; workspace \(workspace) on "
                + "\(WorkspaceFileSystem.describe(workspace)), TMPDIR moves it)"
        )
        print(ResultsReport.table(results), terminator: "")
        try ResultsReport.json(results, quick: quick).write(to: URL(fileURLWithPath: output))
        print("results written to \(output)")
    }

    /// One burst's throughput over another's.
    static func throughputRatio(_ result: ScenarioResult, to baseline: ScenarioResult) -> Double? {
        func throughput(_ result: ScenarioResult) -> Double? {
            result.metrics.first { $0.name == BurstScenario.throughputMetric }?.value
        }
        guard let value = throughput(result), let base = throughput(baseline), base > 0 else { return nil }
        return value / base
    }
}
