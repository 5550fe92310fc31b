import ArgumentParser
import Foundation
import Logging
import VideoSpoolApp
import VideoSpoolCore

struct Fetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a job's stored video out, or download it again while its link works.",
        discussion: """
            Copies the video stored in results.directory, checked against the SHA-256 its webhook \
            announced. Without a stored copy here (not stored, results.keep_local: false, pruned, or \
            stored by another host), downloads the uploaded object from results.s3 with a link \
            presigned now, or else downloads it again from the job's video link with the daemon's \
            settings, which works only until the link expires. Reads the store without blocking the daemon.
            """
    )

    @OptionGroup var options: OperatorOptions

    @Argument(help: "The job id.")
    var jobID: String

    @Option(name: [.short, .long], help: "Where to write the video (default: <job_id>.<ext> here).")
    var output: String?

    func run() async throws {
        let id = try OperatorOptions.jobID(jobID)
        let settings = try await options.settings()
        var logger = Logger(label: "videospool")
        logger.logLevel = .critical
        do {
            let fetched = try await VideoFetch.fetch(
                settings: settings,
                environment: ProcessInfo.processInfo.environment,
                id: id,
                output: output,
                logger: logger
            )
            if options.json {
                var object = JSONObject()
                object["file"] = .string(fetched.path)
                object["bytes"] = .int(fetched.bytes)
                object["sha256"] = .string(fetched.sha256)
                object["source"] = .string(fetched.source.rawValue)
                print(JSONWriter().string(.object(object)))
            } else {
                print("\(id): \(fetched.description)")
            }
        } catch {
            Run.printError("\(error)")
            throw ExitCode.failure
        }
    }
}
