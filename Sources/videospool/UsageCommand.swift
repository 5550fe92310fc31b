import ArgumentParser
import Foundation
import VideoSpoolApp
import VideoSpoolCore

struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Add up what generations cost, from the spend ledger.",
        discussion: """
            Reads the spend ledger of the job store (on any host of a shared store; pruning never \
            deletes it): generations that reached the API, how many completed and failed, how many \
            are in flight, usd_spent and credits_used. A generation counts at the time its \
            submission was recorded. Where the API reported only credits, budget.credits_per_usd \
            converts them. Times are UTC.
            """
    )

    @OptionGroup var options: OperatorOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "From when: a duration ago (24h, 7d, 1h30m) or a date (2026-11-01, ISO 8601).",
            valueName: "since"
        )
    )
    var since = "24h"

    @Option(name: .long, help: ArgumentHelp("Group by model, day or hour (UTC).", valueName: "model|day|hour"))
    var by: String?

    func validate() throws {
        if TimeSpan.instant(since, now: OperatorViews.now()) == nil {
            throw ValidationError("--since must be a duration (24h, 7d) or a date (2026-11-01, 2026-11-01T08:00:00Z)")
        }
        if let by, UsageReport.Grouping(rawValue: by) == nil {
            throw ValidationError("--by must be one of model, day, hour")
        }
    }

    func run() async throws {
        let settings = try await options.settings()
        guard let start = TimeSpan.instant(since, now: OperatorViews.now()) else { throw ExitCode.validationFailure }
        do {
            print(
                try await OperatorViews.usage(
                    settings: settings,
                    environment: ProcessInfo.processInfo.environment,
                    since: start,
                    by: by.flatMap(UsageReport.Grouping.init(rawValue:)),
                    json: options.json,
                    colors: options.colors
                )
            )
        } catch let failure as OperatorViews.Failure {
            Run.printError("\(failure)")
            throw ExitCode.failure
        }
    }
}
