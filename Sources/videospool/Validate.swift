import ArgumentParser
import VideoSpoolApp
import VideoSpoolCore

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check request files with the daemon's rules, without submitting them.",
        discussion: """
            Applies exactly the checks the daemon applies on intake, with this configuration's \
            spool.max_request_bytes and callback policy (webhooks.allow_private_networks, \
            webhooks.allowed_networks). Whether a job_id is already known is not checked; submit does that. \
            Exit status: 0 if every file is valid, 65 if any is not, 66 if a file cannot be read, \
            78 for a configuration error.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "Print one JSON document: {\"valid\": …, \"files\": [{\"file\", \"valid\", \"errors\"}]}.")
    var json = false

    @Argument(help: ArgumentHelp("Request files to check; - reads standard input.", valueName: "file"))
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("Name at least one request file (or - for standard input).") }
        if files.filter({ $0 == "-" }).count > 1 { throw ValidationError("Standard input (-) can be read only once.") }
    }

    func run() async throws {
        let submitter = try await Submit.loadSubmitter(options)
        let style = TerminalStyle.standardOutput
        var reports: [JSONValue] = []
        var allValid = true
        var unreadable = false
        for file in files {
            let name = RequestInput.displayName(file)
            let issues: [ValidationIssue]
            do {
                let bytes = try RequestInput.read(file, limit: submitter.settings.maximumRequestBytes)
                switch submitter.prepare(bytes) {
                case .ready: issues = []
                case .refused(let rejected): issues = rejected.issues
                }
            } catch {
                Run.printError("videospool validate: \(error)")
                unreadable = true
                allValid = false
                let issue = ValidationIssue(field: nil, code: .unreadable, message: error.description)
                reports.append(RequestReport.json(file: name, jobID: nil, issues: [issue]))
                continue
            }
            allValid = allValid && issues.isEmpty
            if json {
                reports.append(RequestReport.json(file: name, jobID: nil, issues: issues))
            } else if issues.isEmpty {
                print("\(name): \(style.green("OK"))")
            } else {
                print("\(name): \(style.red(issues.count == 1 ? "1 problem" : "\(issues.count) problems"))")
                for line in RequestReport.lines(issues, style: style) { print(line) }
            }
        }
        if json {
            RequestReport.print(.object(JSONObject(["valid": .bool(allValid), "files": .array(reports)])))
        }
        if unreadable { throw ExitStatus.noInput }
        if !allValid { throw ExitStatus.dataError }
    }
}
