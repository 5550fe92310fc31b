import ArgumentParser
import Foundation
import VideoSpoolApp
import VideoSpoolCore

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List jobs, newest first.",
        discussion: """
            Reads the job store without blocking the daemon (it may be running or not). States: \
            queued, submitting, generating (at the API), storing (the video is being downloaded \
            before the job is announced), delivering (finished, webhooks still going \
            out), done, failed (including rejected requests), canceled.
            """
    )

    @OptionGroup var options: OperatorOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Only jobs in this state: \(JobState.allCases.map(\.rawValue).joined(separator: "|")).",
            valueName: "state"
        )
    )
    var state: String?

    @Option(name: .long, help: "At most this many jobs (1 to \(OperatorViews.maximumListLimit)).")
    var limit = 50

    func validate() throws {
        if let problem = OperatorViews.listLimitProblem(limit) { throw ValidationError(problem) }
        if let state, JobState(rawValue: state) == nil {
            throw ValidationError("--state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let settings = try await options.settings()
        do {
            print(
                try await OperatorViews.list(
                    settings: settings,
                    environment: ProcessInfo.processInfo.environment,
                    state: state.flatMap(JobState.init(rawValue:)),
                    limit: limit,
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
