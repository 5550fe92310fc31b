import ArgumentParser
import Foundation
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolFileSystem

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a request and drop it into the spool; print its job id.",
        discussion: """
            The request is checked with the daemon's rules and this configuration's settings, and refused \
            (nothing written) if it is invalid or its job_id is already known. Without a job_id it gets one \
            from the daemon's own ULID generator, inserted into the file, so the id printed is the id the \
            daemon uses. The file is written as <spool>/incoming/.<job_id>.json.tmp, synced, and renamed to \
            <job_id>.json. With --wait, the command then follows the job until its outcome file appears and \
            prints the outcome (the video URL, or the error).

            Exit status: 0 submitted (with --wait: the video is ready); 1 (--wait) the generation failed; \
            65 the request is invalid, a duplicate, or was rejected by the daemon; 66 the file cannot be read; \
            73 the spool cannot be written; 75 (--wait --timeout) no outcome in time, the job goes on; \
            78 configuration error.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "Follow the job until it ends and print its outcome; the exit status says how it ended.")
    var wait = false

    @Option(
        name: .long,
        help: ArgumentHelp("With --wait: give up waiting after this many seconds (exit 75).", valueName: "seconds")
    )
    var timeout: Double?

    @Flag(
        name: .long,
        help: "Print JSON: {\"job_id\", \"path\"}; with --wait the outcome document (done/, failed/ or rejected/)."
    )
    var json = false

    @Argument(help: ArgumentHelp("The request file; - reads standard input.", valueName: "file"))
    var file: String

    func validate() throws {
        if timeout != nil, !wait { throw ValidationError("--timeout needs --wait.") }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds.") }
    }

    func run() async throws {
        let submitter = try await Self.loadSubmitter(options)
        let name = RequestInput.displayName(file)
        let bytes: [UInt8]
        do {
            bytes = try RequestInput.read(file, limit: submitter.settings.maximumRequestBytes)
        } catch {
            Run.printError("videospool submit: \(error)")
            throw ExitStatus.noInput
        }
        let prepared: PreparedRequest
        switch submitter.prepare(bytes) {
        case .ready(let request): prepared = request
        case .refused(let rejected): try refuse(name, rejected)
        }
        if let duplicate = await submitter.duplicate(prepared.jobID) { try refuse(name, duplicate) }
        let earlierRejections: Set<String>
        do {
            earlierRejections = try submitter.publish(prepared)
        } catch let error as SpoolFileSystemError {
            if error.errno == EEXIST {
                try refuse(name, RejectedRequest(issues: [Self.takenIssue(prepared.jobID)], requestedJobID: prepared.jobID))
            }
            var message = "videospool submit: cannot write the request into the spool: \(error)"
            if error.errno == ENOENT {
                message += " (spool.directory is \(submitter.settings.spoolDirectory); is --config right?)"
            }
            Run.printError(message)
            throw ExitStatus.cannotCreate
        }
        guard wait else {
            if json {
                RequestReport.print(
                    .object(
                        JSONObject([
                            "job_id": .string(prepared.jobID.rawValue),
                            "path": .string(submitter.incomingPath(for: prepared.jobID)),
                        ])
                    )
                )
            } else {
                print(prepared.jobID.rawValue)
            }
            return
        }
        if !json { print(prepared.jobID.rawValue) }
        try await follow(prepared.jobID, submitter: submitter, earlierRejections: earlierRejections)
    }

    private func refuse(_ name: String, _ rejected: RejectedRequest) throws -> Never {
        if json {
            RequestReport.print(RequestReport.json(file: name, jobID: rejected.requestedJobID, issues: rejected.issues))
        } else {
            let style = TerminalStyle.standardError
            Run.printError("videospool submit: \(name) is \(style.red("not valid")); nothing was submitted")
            for line in RequestReport.lines(rejected.issues, style: style) { Run.printError(line) }
        }
        throw ExitStatus.dataError
    }

    private static func takenIssue(_ id: JobID) -> ValidationIssue {
        ValidationIssue(
            field: "job_id",
            code: .duplicateJobID,
            message: "incoming/\(id).json already exists; job_id '\(id)' is being submitted by someone else"
        )
    }

    /// Loads the configuration as `run` does, exiting 78 if it does not load.
    static func loadSubmitter(_ options: ConfigOptions) async throws -> RequestSubmitter {
        do {
            return RequestSubmitter(settings: try await SettingsLoader.loadSettings(path: options.config))
        } catch {
            Run.printError("configuration error: \(error)")
            throw ExitStatus.configuration
        }
    }
}
