import ArgumentParser
import VideoSpoolApp
import VideoSpoolCore

private let controlDiscussion = """
    With the daemon running, the request goes over its control socket (control.sock in \
    state.directory, mode 0660) so its queues and timers follow. With it stopped, the change is \
    made in the store and takes effect at the next start. The output says which. Whether a daemon \
    runs is decided by its lock (state.directory/videospool.lock): if a daemon holds it but its \
    socket does not answer within 5 s (starting or stopping), nothing is changed and the exit \
    status is 75.
    """

struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop a queued, submitting or generating job; its callbacks get video.generation.canceled.",
        discussion: """
            The AI/ML API has no cancel: a generation already submitted keeps running upstream and \
            is billed. The daemon only stops polling it. The job ends 'canceled', its outcome file \
            goes to failed/. \(controlDiscussion)
            """
    )

    @OptionGroup var options: OperatorOptions

    @Argument(help: "The job id.")
    var jobID: String

    func run() async throws {
        _ = try OperatorOptions.jobID(jobID)
        try await options.perform(ControlRequest(command: .cancel, jobID: jobID))
    }
}

struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a failed (or canceled) job again, as a new generation.",
        discussion: """
            The job is queued again with the same id; its failed/ file is removed. When it ends, its \
            callbacks get a new event with a new webhook-id. Nothing is ever retried this way \
            without being asked. \(controlDiscussion)
            """
    )

    @OptionGroup var options: OperatorOptions

    @Argument(help: "The job id.")
    var jobID: String

    func run() async throws {
        _ = try OperatorOptions.jobID(jobID)
        try await options.perform(ControlRequest(command: .retry, jobID: jobID))
    }
}

struct Redeliver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a job's webhook again (same webhook-id and body, fresh signature).",
        discussion: """
            videospool redeliver JOB_ID [--url URL] sends the job's latest event again to all its \
            callbacks, or only to URL. A URL that is not one of its callbacks is added as a new \
            delivery of the same event; the SSRF guard checks it like any callback. \
            videospool redeliver --failed-since TIME sends every delivery that ended failed since \
            TIME (ISO 8601, or a duration ago such as 2h or 30m) again. Each gets the whole retry \
            schedule afresh. \(controlDiscussion)
            """
    )

    @OptionGroup var options: OperatorOptions

    @Argument(help: "The job id (omit with --failed-since).")
    var jobID: String?

    @Option(name: .long, help: ArgumentHelp("Only this callback URL.", valueName: "url"))
    var url: String?

    @Option(name: .long, help: ArgumentHelp("Every delivery that ended failed since then: ISO 8601 or a duration ago (2h).", valueName: "time"))
    var failedSince: String?

    func validate() throws {
        if (jobID == nil) == (failedSince == nil) { throw ValidationError("give either a JOB_ID or --failed-since") }
        if failedSince != nil, url != nil { throw ValidationError("--url goes with a JOB_ID") }
        if let jobID { _ = try OperatorOptions.jobID(jobID) }
    }

    func run() async throws {
        if let failedSince {
            guard let since = TimeSpan.instant(failedSince, now: OperatorViews.now()) else {
                throw ValidationError("--failed-since: '\(failedSince)' is neither ISO 8601 nor a duration like 2h")
            }
            try await options.perform(ControlRequest(command: .redeliver, failedSince: since.millisecondsSinceEpoch))
        } else {
            try await options.perform(ControlRequest(command: .redeliver, jobID: jobID, url: url))
        }
    }
}

struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete finished jobs (and their done/ and failed/ files) that ended long enough ago.",
        discussion: """
            Only jobs whose webhooks are settled (none pending) are deleted; active jobs never are. \
            Files in rejected/ are left alone. The answer counts the deleted jobs; --ids also \
            prints their ids, one a line, as each batch is deleted. Jobs go oldest first in batches \
            of 500, each costing its size however long the history, and the \
            command waits as long as the work takes (with a running count on standard error when it \
            is a terminal). The daemon does the same hourly with \
            state.retention_days (default 30; 0 keeps everything). \(controlDiscussion)
            """
    )

    @OptionGroup var options: OperatorOptions

    @Option(name: .long, help: ArgumentHelp("Jobs that ended more than this long ago: 30d, 12h, 90m, 1w.", valueName: "duration"))
    var olderThan: String

    @Flag(name: .long, help: "Also print the id of each deleted job, one a line, as the work goes (with --json: in the document's jobs).")
    var ids = false

    func run() async throws {
        guard let age = TimeSpan.duration(olderThan) else {
            throw ValidationError("--older-than: '\(olderThan)' is not a duration like 30d, 12h or 90m")
        }
        let cutoff = OperatorViews.now() - age
        try await options.perform(ControlRequest(command: .prune, endedBefore: cutoff.millisecondsSinceEpoch, ids: ids))
    }
}
