import Foundation
import VideoSpoolCore
import VideoSpoolSimulator

/// Files already waiting when the daemon starts, more dropped while it works; every generation
/// is complete at its first poll and the receiver answers 204 at once. Measures throughput, on
/// either store (PostgreSQL's server CPU is counted beside the daemon's).
struct BurstScenario {
    var preloaded = 10_000
    var droppedWhileRunning = 1_000
    var store = BenchStore.sqlite
    /// Serve `GET /metrics` on a unix socket and scrape it every ``MetricsScraper/interval``.
    var metrics = false

    /// "burst", "burst (postgresql)", "burst (metrics on)".
    var name: String {
        let qualifiers = (store.name == "sqlite" ? [] : [store.name]) + (metrics ? ["metrics on"] : [])
        return qualifiers.isEmpty ? "burst" : "burst (\(qualifiers.joined(separator: ", ")))"
    }

    static let throughputMetric = "end-to-end throughput"

    func run(binary: String) async throws -> ScenarioResult {
        let workspace = try BenchWorkspace(name: "burst")
        defer { workspace.remove() }
        let simulator = BenchWorkspace.simulator(generation: .fixed(.zero))
        let total = preloaded + droppedWhileRunning
        return try await simulator.withRunningServer { port in
            let socket = workspace.root + "/metrics.sock"
            try workspace.configure(
                port: port,
                api: BenchConfiguration.throughputAPI,
                state: try store.stateKeys(),
                extra: metrics ? "metrics:\n  listen: \(socket)" : ""
            )
            let serverCPUBefore = try store.serverCPUSeconds()
            let transactionsBefore = try store.committedTransactions()
            for index in 0..<preloaded { try workspace.drop(index, port: port) }
            let webhooks = simulator.receiver.subscribe()
            let readySocket = try ReadySocket(path: workspace.root + "/notify.sock")
            let daemon = try workspace.start(binary: binary, environment: ["NOTIFY_SOCKET": readySocket.path])
            // Start-up with the backlog waiting: exec to READY=1. The socket is closed then, as
            // nothing reads it after (its later datagrams are refused, not queued).
            let ready = Task {
                defer { readySocket.close() }
                return try await readySocket.waitForReady(within: .seconds(120)) ? ContinuousClock.now : nil
            }
            let scraper = metrics ? MetricsScraper(socket: socket).start() : nil

            // The late files arrive in small batches while the daemon works through the backlog.
            let dropper = Task {
                var dropped: [Int: ContinuousClock.Instant] = [:]
                for index in preloaded..<total {
                    try workspace.drop(index, port: port)
                    dropped[index] = .now
                    if index % 10 == 9 { try await Task.sleep(for: .milliseconds(2)) }
                }
                return dropped
            }
            let arrivals = try await WebhookArrivals.collect(total, from: webhooks, daemon: daemon, workspace: workspace)
            let cpu = try daemon.cpuSeconds()
            let readyAt = try await ready.value
            scraper?.cancel()
            let scrapes = try await scraper?.value
            let serverCPU = try store.serverCPUSeconds() - serverCPUBefore
            let memory = try daemon.memoryMiB()
            let status = await daemon.stop()
            let dropped = try await dropper.value

            var result = ScenarioResult(
                name: name,
                summary: "\(preloaded) files waiting + \(droppedWhileRunning) dropped while running; complete at first poll; receiver 204"
                    + (store.name == "sqlite" ? "" : "; \(store.name) on this machine (durable commits, unix socket)")
            )
            let elapsed = (arrivals.last - daemon.startedAt).milliseconds / 1000
            if case .sqlite = store {
                result.add(Self.throughputMetric, Double(total) / elapsed, "jobs/s", .atLeast(2000))
                result.add("daemon CPU per job", cpu * 1000 / Double(total), "ms", .atMost(0.5))
            } else {
                // The target is relative to SQLite's burst in the same run (BenchCommand adds it).
                result.add(Self.throughputMetric, Double(total) / elapsed, "jobs/s")
                result.add("daemon CPU per job", cpu * 1000 / Double(total), "ms")
                result.add("database server CPU per job", serverCPU * 1000 / Double(total), "ms")
                // Read after the stop, once the server's statistics have caught up.
                try await Task.sleep(for: .seconds(1.5))
                let transactions = try store.committedTransactions() - transactionsBefore
                result.add("database transactions per job", transactions / Double(total), "")
            }
            result.add("peak RSS", memory.peak, "MiB")
            if let readyAt {
                let seconds = (readyAt - daemon.startedAt).milliseconds / 1000
                result.add("READY after start, \(preloaded) files waiting", seconds, "s", store.name == "sqlite" ? .atMost(1) : nil)
            } else {
                result.notes.append("no READY=1 within 120 s")
            }
            let timeline = SimulatorTimeline(simulator)
            let dropToSubmit = dropped.compactMap { index, instant in timeline.submittedAt[index].map { ($0 - instant).milliseconds } }
            result.add("drop → submit p50 (late files)", percentile(dropToSubmit, 50), "ms")
            result.add("drop → submit p99 (late files)", percentile(dropToSubmit, 99), "ms")
            let completionToWebhook = arrivals.byJob.compactMap { index, instant in
                timeline.completionSeen(index).map { (instant - $0).milliseconds }
            }
            result.add("completion seen → webhook p50", percentile(completionToWebhook, 50), "ms")
            result.add("completion seen → webhook p99", percentile(completionToWebhook, 99), "ms")
            if let scrapes {
                result.notes.append(
                    "/metrics scraped every \(MetricsScraper.interval) during the burst: \(scrapes.succeeded) answers of "
                        + "\(scrapes.bytes / max(scrapes.succeeded, 1)) bytes, \(scrapes.failed) failed"
                )
            }
            result.notes.append(
                "timed from process start (store open and spool scan included) to the last webhook: \(Metric.format(elapsed)) s; "
                    + "\(simulator.api.statistics.polls) polls for \(total) jobs; exit status \(status)"
            )
            if status != 0 {
                // Why it did not stop cleanly: the last errors it logged.
                let log = (try? String(contentsOfFile: workspace.root + "/daemon.log", encoding: .utf8)) ?? ""
                for line in log.split(separator: "\n").filter({ $0.contains(" error ") || $0.contains("critical") }).suffix(3) {
                    result.notes.append("daemon: " + line.prefix(400))
                }
            }
            return result
        }
    }
}
