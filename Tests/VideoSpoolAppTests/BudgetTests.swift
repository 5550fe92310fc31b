import Foundation
import Logging
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolRuntime
import VideoSpoolSimulator
import VideoSpoolSystemd
import VideoSpoolTesting

/// Budgets through the daemon: the keys, a daily limit that stops a burst against the simulator
/// with nothing failed, a reload with a higher limit that lets the rest go, and `usage` adding the
/// ledger up afterwards.
struct BudgetTests {
    static let variables = ["AIMLAPI_API_KEY": "budget-key", "VIDEOSPOOL_WEBHOOK_SECRET": testSecretText]

    @Test func budgetKeysAreUnsetByDefaultAndReadStrictly() async throws {
        #expect(DaemonSettings().budget == BudgetSettings())
        #expect(!DaemonSettings().budget.hasLimits)
        try await withTemporaryDirectory { root in
            let path = root + "/videospool.yaml"
            try write(
                "budget:\n  max_usd_per_day: 12.5\n  max_usd_per_month: 300\n  max_generations_per_hour: 0\n"
                    + "  default_estimate_usd: 0.07\n  credits_per_usd: 1000000\n",
                to: path
            )
            let settings = try await SettingsLoader.loadSettings(path: path)
            #expect(
                settings.budget
                    == BudgetSettings(
                        maxUSDPerDay: 12.5,
                        maxUSDPerMonth: 300,
                        maxGenerationsPerHour: 0,
                        defaultEstimateUSD: 0.07,
                        creditsPerUSD: 1_000_000
                    )
            )
            #expect(settings.pipelinePolicy.budget == settings.budget)
            #expect(
                settings.summary.contains(
                    "budget: 0 generations per hour, $12.50 per 24 hours, $300.00 per month (UTC); "
                        + "default estimate $0.07, 1000000 credits per USD"
                ),
                "\(settings.summary)"
            )
            #expect(DaemonSettings().summary.contains { $0.hasPrefix("budget: no limit; default estimate $0.50") })
            try write("budget:\n  max_usd_per_day: -1\n", to: path)
            await #expect(throws: ConfigurationError.self) { try await SettingsLoader.loadSettings(path: path) }
            try write("budget:\n  max_usd_per_day: lots\n", to: path)
            await #expect(throws: ConfigurationError.self) { try await SettingsLoader.loadSettings(path: path) }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aDailyLimitStopsTheBurstAndAReloadWithAHigherLimitResumesIt() async throws {
        try await withTemporaryDirectory { root in
            // $0.02 a second: a 5-second video costs $0.10.
            let simulator = Simulator(
                configuration: SimulatorConfiguration(
                    apiKey: "budget-key",
                    queuedTime: .milliseconds(10),
                    generationTime: .fixed(.milliseconds(50)),
                    videoBaseURL: "https://cdn.simulator.invalid/generations",
                    usdPerSecond: 0.02
                ),
                logger: Logger(label: "simulator", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            try await simulator.withRunningServer { port in
                let path = root + "/videospool.yaml"
                @Sendable func config(maxPerDay: String) -> String {
                    """
                    spool:
                      directory: \(root)/spool
                      settle_seconds: 0
                    state:
                      directory: \(root)/state
                    api:
                      base_url: http://127.0.0.1:\(port)
                      poll:
                        schedule: fixed
                        first_delay_seconds: 0.05
                        interval_seconds: 0.05
                    results:
                      download: false
                    budget:
                      max_usd_per_day: \(maxPerDay)
                      default_estimate_usd: 0.1
                    metrics:
                      listen: \(root)/metrics.sock
                    """
                }
                try write(config(maxPerDay: "0.3"), to: path)
                let (settings, credentials) = try await SettingsLoader.load(path: path, environment: Self.variables)
                let daemon = try Daemon.make(
                    settings: settings,
                    credentials: credentials,
                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                    environment: Daemon.Environment(
                        logSettings: LogSettings(level: settings.logLevel),
                        configPath: path,
                        variables: Self.variables
                    )
                )
                try await daemon.run { daemon in
                    let incoming = root + "/spool/incoming/"
                    for index in 0..<8 {
                        let body = String(decoding: TestRequests.seedance(prompt: "budget \(index)", callbackURL: nil), as: UTF8.self)
                        try write(body, to: incoming + ".r\(index).tmp")
                        try FileManager.default.moveItem(atPath: incoming + ".r\(index).tmp", toPath: incoming + "r\(index).json")
                    }
                    try await eventually(timeout: .seconds(60), "three done and the budget reached") {
                        let status = daemon.pipeline.status
                        return status.completed == 3 && status.budgetReached != nil && status.queued == 5
                    }
                    let held = daemon.pipeline.status
                    #expect(held.failed == 0, "\(held)")
                    #expect(held.description.contains("budget reached: $0.30 per 24 hours"), "\(held)")
                    #expect(simulator.api.statistics.acceptedSubmissions == 3)
                    // The example alert's gauge says so too.
                    #expect(try MetricsEndpointTests.scrape(root + "/metrics.sock").contains("\nvideospool_budget_reached 1"))

                    try write(config(maxPerDay: "5"), to: path)
                    #expect(await daemon.reload())
                    try await eventually(timeout: .seconds(60), "every job done") { daemon.pipeline.status.completed == 8 }
                    #expect(daemon.pipeline.status.budgetReached == nil)
                    #expect(try MetricsEndpointTests.scrape(root + "/metrics.sock").contains("\nvideospool_budget_reached 0"))
                    #expect(daemon.pipeline.status.failed == 0)
                }
                #expect(simulator.api.statistics.acceptedSubmissions == 8)
                let text = try await OperatorViews.usage(
                    settings: settings,
                    environment: [:],
                    since: OperatorViews.now() - .seconds(3600),
                    by: .model,
                    json: true,
                    colors: .plain
                )
                let report = try #require(try JSONParser().parse(text).objectValue)
                let total = try #require(report["total"]?.objectValue)
                #expect(total["generations"]?.numberValue?.int64Value == 8)
                #expect(total["completed"]?.numberValue?.int64Value == 8)
                #expect(abs((total["usd_spent"]?.numberValue?.doubleValue ?? 0) - 0.8) < 1e-9, "\(text)")
                #expect(total["credits_used"]?.numberValue?.doubleValue == 1_600_000)

                // The same through the binary, as an operator runs it (text, by day).
                let command = try await ClientCommand.run(["usage", "--since", "1h", "--by", "day", "--config", path], in: root)
                #expect(command.status == 0, "\(command.stderr)")
                let lines = command.stdout.split(separator: "\n").map(String.init)
                #expect(lines.first?.hasPrefix("since ") == true, "\(command.stdout)")
                #expect(lines.contains { $0.hasPrefix("DAY") && $0.contains("GENERATIONS") && $0.contains("USD") }, "\(command.stdout)")
                let totalLine = try #require(lines.last { $0.hasPrefix("total") }, "\(command.stdout)")
                #expect(totalLine.split(separator: " ").map(String.init).contains("$0.800"), "\(totalLine)")
                let refused = try await ClientCommand.run(["usage", "--by", "week", "--config", path], in: root)
                #expect(refused.status == 64, "\(refused.stderr)")
                #expect(refused.stderr.contains("--by must be one of model, day, hour"))
            }
        }
    }
}
