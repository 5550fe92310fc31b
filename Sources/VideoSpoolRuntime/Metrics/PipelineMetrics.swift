public import CoreMetrics
public import VideoSpoolCore

/// What the pipeline counts and times, through swift-metrics' API: the daemon picks the backend
/// (Prometheus, when `metrics.listen` is set) and tests pass a recording factory. Every name and
/// label here is documented in docs/metrics.md; label values come from small fixed sets (codes,
/// status classes, catalogue models), never from ids or URLs.
public struct PipelineMetrics: Sendable {
    private let factory: any MetricsFactory
    private let models: ModelCatalog

    /// - Parameters:
    ///   - factory: where the metrics go; `NOOPMetricsHandler.instance` counts nothing.
    ///   - models: the catalogue; a model it does not list is labelled `unlisted`, so a request
    ///     file cannot make a new time series.
    public init(factory: any MetricsFactory, models: ModelCatalog) {
        self.factory = factory
        self.models = models
    }

    /// Counts nothing: for tests and embedders that do not look.
    public static let disabled = PipelineMetrics(factory: NOOPMetricsHandler.instance, models: ModelCatalog())

    /// Names, shared with the tests and the documentation.
    public enum Name {
        public static let jobsAccepted = "videospool_jobs_accepted_total"
        public static let jobsRejected = "videospool_jobs_rejected_total"
        public static let jobsFinished = "videospool_jobs_finished_total"
        public static let apiRequests = "videospool_api_requests_total"
        public static let apiRequestDuration = "videospool_api_request_duration_seconds"
        public static let apiHolds = "videospool_api_holds_total"
        public static let apiConcurrencyReductions = "videospool_api_concurrency_reductions_total"
        public static let apiPauses = "videospool_api_pauses_total"
        public static let pollsPerJob = "videospool_polls_per_job"
        public static let completionPollGap = "videospool_completion_poll_gap_seconds"
        public static let generationDuration = "videospool_generation_duration_seconds"
        public static let videoDownloads = "videospool_video_downloads_total"
        public static let videoDownloadBytes = "videospool_video_download_bytes_total"
        public static let videoDownloadDuration = "videospool_video_download_duration_seconds"
        public static let resultsDiskFull = "videospool_results_disk_full_total"
        public static let webhookAttempts = "videospool_webhook_attempts_total"
        public static let webhookAttemptDuration = "videospool_webhook_attempt_duration_seconds"
        public static let webhooksGivenUp = "videospool_webhook_deliveries_given_up_total"
        public static let storeCommitDuration = "videospool_store_commit_duration_seconds"
        public static let usdSpent = "videospool_usd_spent_total"
        public static let creditsUsed = "videospool_credits_used_total"
    }

    /// Registers, at zero, the counters whose first increase an alert must see: a series that
    /// appears already at 1 shows no `increase()` in Prometheus.
    public func registerAlertingCounters() {
        for state in [Delivery.State.failed, .gone, .refused] {
            Counter(label: Name.webhooksGivenUp, dimensions: [("state", state.rawValue)], factory: factory).increment(by: 0)
        }
        for loop in ["submissions", "polling"] {
            Counter(label: Name.apiPauses, dimensions: [("loop", loop)], factory: factory).increment(by: 0)
        }
        for name in [Name.apiHolds, Name.apiConcurrencyReductions, Name.resultsDiskFull] {
            Counter(label: name, factory: factory).increment(by: 0)
        }
    }

    /// The model as a label value: its id when the catalogue lists it, else `unlisted`.
    public func modelLabel(_ model: String) -> String {
        models.metricsLabel(for: model)
    }

    // MARK: - Intake

    public func jobAccepted(_ job: Job) {
        Counter(label: Name.jobsAccepted, dimensions: [("model", modelLabel(job.model))], factory: factory).increment()
    }

    /// `code`: the first validation issue's code (a fixed set), or `unknown`.
    public func jobRejected(code: String?) {
        Counter(label: Name.jobsRejected, dimensions: [("code", code ?? "unknown")], factory: factory).increment()
    }

    // MARK: - Finished jobs

    /// A job reached its end (completed, failed or canceled): its outcome, its cost and, when it
    /// was generated, how long that took and how many polls it needed.
    public func jobFinished(_ job: Job) {
        let model = modelLabel(job.model)
        let outcome = job.phase.rawValue
        Counter(
            label: Name.jobsFinished,
            dimensions: [("outcome", outcome), ("code", job.failure.map { "\($0.code)" } ?? "none"), ("model", model)],
            factory: factory
        ).increment()
        if let usage = job.usage {
            if let usd = usage.usdSpent.flatMap({ Double($0.text) }), usd.isFinite, usd > 0 {
                FloatingPointCounter(label: Name.usdSpent, dimensions: [("model", model)], factory: factory).increment(by: usd)
            }
            if let credits = usage.creditsUsed.flatMap({ Double($0.text) }), credits.isFinite, credits > 0 {
                FloatingPointCounter(label: Name.creditsUsed, dimensions: [("model", model)], factory: factory)
                    .increment(by: credits)
            }
        }
        guard job.phase == .completed, let submittedAt = job.submittedAt, let finishedAt = job.finishedAt else { return }
        // Resolution and duration are checked against the catalogue only for listed models.
        let listed = model != ModelCatalog.unlistedLabel
        Timer(
            label: Name.generationDuration,
            dimensions: [
                ("model", model),
                ("resolution", listed ? job.parameters.resolution ?? "default" : "unlisted"),
                ("duration", listed ? job.parameters.durationSeconds.map { String($0) } ?? "default" : "unlisted"),
            ],
            factory: factory
        ).recordInterval(finishedAt - submittedAt)
        Recorder(label: Name.pollsPerJob, dimensions: [("model", model)], aggregate: true, factory: factory)
            .record(job.polls)
        if let lastRunningAt = job.lastRunningAt, lastRunningAt <= finishedAt {
            Timer(label: Name.completionPollGap, dimensions: [("model", model)], factory: factory)
                .recordInterval(finishedAt - lastRunningAt)
        }
    }

    // MARK: - The API

    public enum RequestKind: String, Sendable {
        case submit
        case poll
    }

    public func apiRequest(_ kind: RequestKind, exchange: APIExchange, latency: Duration) {
        Counter(
            label: Name.apiRequests,
            dimensions: [("kind", kind.rawValue), ("status_class", Self.statusClassLabel(of: exchange))],
            factory: factory
        ).increment()
        Timer(label: Name.apiRequestDuration, dimensions: [("kind", kind.rawValue)], factory: factory)
            .recordInterval(latency)
    }

    /// A `Retry-After` hold began on every API request.
    public func apiHoldBegan() {
        Counter(label: Name.apiHolds, factory: factory).increment()
    }

    /// A 429 lowered the adaptive concurrency limit.
    public func apiConcurrencyReduced() {
        Counter(label: Name.apiConcurrencyReductions, factory: factory).increment()
    }

    /// A 401 or 403 paused submissions or polls (`loop`: `submissions` or `polling`).
    public func apiPaused(_ loop: String) {
        Counter(label: Name.apiPauses, dimensions: [("loop", loop)], factory: factory).increment()
    }

    /// `2xx` … `5xx` for an answer; `not_sent` or `no_answer` when there was none.
    public static func statusClassLabel(of exchange: APIExchange) -> String {
        switch exchange {
        case .response(let response): statusClass(response.statusCode)
        case .notSent: "not_sent"
        case .outcomeUnknown: "no_answer"
        }
    }

    static func statusClass(_ code: Int) -> String {
        (100...599).contains(code) ? "\(code / 100)xx" : "other"
    }

    // MARK: - Videos

    public func videoDownload(_ outcome: Result<StoredVideo, VideoDownloadError>, latency: Duration) {
        let label: String
        switch outcome {
        case .success(let video):
            label = "stored"
            Counter(label: Name.videoDownloadBytes, factory: factory).increment(by: video.bytes)
        case .failure(let error):
            label = "\(error.code)"
            if error.code == .diskFull { Counter(label: Name.resultsDiskFull, factory: factory).increment() }
        }
        Counter(label: Name.videoDownloads, dimensions: [("outcome", label)], factory: factory).increment()
        Timer(label: Name.videoDownloadDuration, dimensions: [("outcome", label == "stored" ? "stored" : "failed")], factory: factory)
            .recordInterval(latency)
    }

    // MARK: - Webhooks

    public func webhookAttempt(_ result: DeliveryStateMachine.AttemptResult, latency: Duration) {
        let statusClass: String
        switch result {
        case .response(let code, _, _): statusClass = Self.statusClass(code)
        case .transportFailure(_, let timedOut): statusClass = timedOut ? "timeout" : "no_answer"
        case .refused: statusClass = "refused"
        }
        Counter(label: Name.webhookAttempts, dimensions: [("status_class", statusClass)], factory: factory).increment()
        Timer(label: Name.webhookAttemptDuration, factory: factory).recordInterval(latency)
    }

    /// A delivery ended without success (`state`: `failed`, `gone` or `refused`).
    public func webhookGivenUp(_ state: Delivery.State) {
        Counter(label: Name.webhooksGivenUp, dimensions: [("state", state.rawValue)], factory: factory).increment()
    }

    // MARK: - The store

    public func storeCommit(latency: Duration) {
        Timer(label: Name.storeCommitDuration, factory: factory).recordInterval(latency)
    }
}

extension CoreMetrics.Timer {
    fileprivate func recordInterval(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
    }
}
