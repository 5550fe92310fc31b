import VideoSpoolRuntime

/// The `# HELP` text of every metric the daemon exports; docs/metrics.md says more about each
/// (a test keeps the two in step).
public enum MetricsHelp {
    typealias Pipeline = PipelineMetrics.Name
    typealias Daemon = DaemonMetrics.Name

    public static let text: [String: String] = [
        Pipeline.jobsAccepted: "Request files accepted as jobs, by model.",
        Pipeline.jobsRejected: "Request files rejected, by the first problem's code.",
        Pipeline.jobsFinished: "Jobs that ended, by outcome, failure code (none when completed) and model.",
        Pipeline.apiRequests: "Requests to the generation API, by kind (submit, poll) and status class.",
        Pipeline.apiRequestDuration: "Time from sending an API request to its answer (or failure), by kind.",
        Pipeline.apiHolds: "Times a Retry-After answer held every API request.",
        Pipeline.apiConcurrencyReductions: "Times a 429 lowered the adaptive API concurrency limit.",
        Pipeline.apiPauses: "Times a 401 or 403 paused submissions or polls, by loop.",
        Pipeline.pollsPerJob: "Polls each finished generation took, by model.",
        Pipeline.completionPollGap: "Time between the last answer that saw a generation running and the poll that saw it finished.",
        Pipeline.generationDuration: "Time from submission to the generation's end, by model, resolution and duration.",
        Pipeline.videoDownloads: "Attempts to store a video, by outcome (stored or an error code).",
        Pipeline.videoDownloadBytes: "Bytes of videos stored.",
        Pipeline.videoDownloadDuration: "Time each attempt to store a video took, by outcome.",
        Pipeline.resultsDiskFull: "Video downloads that stopped because the results directory was full.",
        Pipeline.webhookAttempts: "Webhook attempts, by status class of the receiver's answer.",
        Pipeline.webhookAttemptDuration: "Time each webhook attempt took.",
        Pipeline.webhooksGivenUp: "Webhook deliveries that ended without success, by final state.",
        Pipeline.storeCommitDuration: "Time each job-store transaction took to commit.",
        Pipeline.usdSpent: "US dollars the API reported spent (meta.usage.usd_spent), by model.",
        Pipeline.creditsUsed: "Credits the API reported used (meta.usage.credits_used), by model.",
        Daemon.jobs: "Jobs in each phase now.",
        Daemon.apiConcurrencyLimit: "API requests allowed at once now (lowered by 429s).",
        Daemon.apiConcurrencyMaximum: "api.max_concurrent_requests in force.",
        Daemon.apiHeld: "1 while a Retry-After hold stops every API request.",
        Daemon.apiPaused: "1 while a 401 or 403 pauses the loop (submissions or polling).",
        Daemon.generationsLimit: "Generations allowed in flight now (halved by 429s to submissions, grows back).",
        Daemon.generationsMaximum: "api.max_in_flight_generations: the ceiling of the in-flight limit.",
        Daemon.storeAvailable: "0 while the job store cannot be written (commits wait).",
        Daemon.budgetReached: "1 while a budget.* limit stops submissions (jobs stay queued).",
        Daemon.downloadsStalled: "1 while videos cannot be stored (results directory full).",
        Daemon.deliveriesPending: "Webhook deliveries not yet made nor given up.",
        Daemon.cpuSeconds: "User and system CPU time of the daemon, in seconds.",
        Daemon.residentBytes: "Resident memory of the daemon, in bytes.",
        Daemon.openFiles: "Open file descriptors of the daemon.",
    ]
}
