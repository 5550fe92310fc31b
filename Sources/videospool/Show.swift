import ArgumentParser
import Foundation
import VideoSpoolApp
import VideoSpoolCore

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one job: its request, timeline, generation and every webhook attempt.",
        discussion: """
            The request is shown without inline media (data: URLs and base64 become \
            <base64, 48 KB>) and URLs without their query strings; secrets are never in the store. \
            Each delivery attempt is listed with its HTTP status, error and latency. Reads the store \
            without blocking the daemon.
            """
    )

    @OptionGroup var options: OperatorOptions

    @Argument(help: "The job id.")
    var jobID: String

    func run() async throws {
        let id = try OperatorOptions.jobID(jobID)
        let settings = try await options.settings()
        do {
            print(
                try await OperatorViews.show(
                    settings: settings,
                    environment: ProcessInfo.processInfo.environment,
                    id: id,
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
