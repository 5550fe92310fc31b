public import Logging
public import VideoSpoolCore
public import VideoSpoolPostgres

/// Every setting of the daemon, with its default. Secrets are resolved separately (``Credentials``)
/// and never printed.
public struct DaemonSettings: Sendable {
    // spool.*
    public var spoolDirectory = "/var/spool/videospool"
    public var maximumRequestBytes = 10 * 1024 * 1024
    public var settleSeconds = 5.0
    public var rescanIntervalSeconds = 30.0
    public var duplicateWindowSeconds = 3600.0

    // state.*
    public var stateDirectory = "/var/lib/videospool"
    /// Finished jobs and their outcome files are deleted this many days after they ended; 0 keeps them.
    public var retentionDays = 30
    /// Where jobs are kept: SQLite in ``stateDirectory`` (one daemon) or a shared PostgreSQL.
    public var storeBackend = StoreBackend.sqlite
    /// The `state.postgresql.*` keys as written; checked, with the password, by ``Credentials``.
    public var postgresql = PostgresStoreConfiguration.Values(url: nil)

    // api.*
    public var apiBaseURL = "https://api.aimlapi.com"
    public var apiKeyFile: String?
    public var maximumConcurrentRequests = 8
    /// Enough to poll 10,000 generations every 15 s (about 670 a second) and still submit.
    public var maximumRequestsPerSecond = 1000.0
    public var maximumInFlightGenerations = 128
    public var requestTimeoutSeconds = 30.0
    public var pollScheduleMode = PollSchedule.Mode.learned
    public var pollDenseIntervalSeconds = 4.5
    public var pollFirstDelaySeconds = 30.0
    public var pollIntervalSeconds = 15.0
    public var pollDeadlineSeconds = 1800.0
    public var ambiguousSubmissionPolicy = AmbiguousSubmissionPolicy.fail
    public var queueLifetimeSeconds = 86400.0
    public var pauseSeconds = 30.0

    // webhooks.*
    public var webhookSecretFile: String?
    public var defaultCallbackURLs: [String] = []
    public var webhookTimeoutSeconds = 15.0
    public var webhookRetryScheduleSeconds: [Double] = WebhookRetrySchedule.standardDelays.map(\.secondsDouble)
    public var allowPrivateNetworks = false
    public var allowedNetworks: [CIDR] = []
    public var maximumConcurrentDeliveries = 64

    // results.*
    /// Store each completed generation's video before the link expires.
    public var storeVideos = true
    /// Where videos are stored as `<job_id>.<ext>`; `nil` means `<state.directory>/videos`.
    public var resultsDirectorySetting: String?
    /// The largest video stored (2 GiB).
    public var maximumVideoBytes: Int64 = 2 << 30
    /// How long after a generation finished its video may take to store, retries included.
    public var downloadDeadlineSeconds = 3600.0
    /// Videos downloaded at once.
    public var maximumConcurrentDownloads = 4
    /// The completed webhook waits for the stored video (and carries its file and checksum).
    public var announceAfterDownload = true
    /// With object storage: keep the local copy after its upload is confirmed.
    public var keepLocal = true
    /// `results.s3.*`: upload each stored video to S3-compatible object storage; `nil` without.
    public var s3: S3Settings?

    /// `results.directory`, defaulted from `state.directory`.
    public var resultsDirectory: String { resultsDirectorySetting ?? stateDirectory + "/videos" }

    // models.*
    /// Operator model definitions (`*.json`); see docs/models.md.
    public var modelsDirectory = DaemonSettings.defaultModelsDirectory
    /// Lets requests for models without a definition through, with only the generic checks.
    public var allowUnlistedModels = false
    /// The built-in models plus those loaded from ``modelsDirectory`` (by ``SettingsLoader``).
    public var models = ModelCatalog.builtIn

    // budget.*
    /// Spending limits and how spend is counted (docs/budgets.md); none by default.
    public var budget = BudgetSettings()

    // log.*
    public var logLevel = Logger.Level.info

    // metrics.*
    /// Where `GET /metrics` is served (docs/metrics.md); `nil`, the default, serves nothing.
    /// Read at start only.
    public var metricsListen: MetricsListenAddress?

    public init() {}

    public static let defaultModelsDirectory = "/etc/videospool/models.d"

    /// Every key the configuration file may contain, for spotting typos.
    public static let knownKeys: [String] = [
        "spool.directory", "spool.max_request_bytes", "spool.settle_seconds", "spool.rescan_interval_seconds",
        "spool.duplicate_window_seconds",
        "state.directory",
        "state.retention_days",
        "state.backend",
        "api.base_url", "api.key_file", "api.max_concurrent_requests", "api.max_requests_per_second",
        "api.max_in_flight_generations",
        "api.request_timeout_seconds", "api.poll.schedule", "api.poll.first_delay_seconds",
        "api.poll.interval_seconds", "api.poll.dense_interval_seconds", "api.poll.deadline_seconds",
        "api.ambiguous_submit_policy", "api.queue_lifetime_seconds", "api.pause_seconds",
        "webhooks.secret_file", "webhooks.default_urls", "webhooks.timeout_seconds",
        "webhooks.retry_schedule_seconds", "webhooks.allow_private_networks", "webhooks.allowed_networks",
        "webhooks.max_concurrent_deliveries",
        "results.download", "results.directory", "results.max_bytes", "results.deadline_seconds",
        "results.max_concurrent", "results.announce_after_download", "results.keep_local",
        "models.directory", "models.allow_unlisted",
        "budget.max_usd_per_day", "budget.max_usd_per_month", "budget.max_generations_per_hour",
        "budget.default_estimate_usd", "budget.credits_per_usd",
        "log.level",
        "metrics.listen",
    ] + PostgresStoreConfiguration.keys + S3Settings.knownKeys

    /// The rules the state machine follows, from these settings.
    public var pipelinePolicy: PipelinePolicy {
        var policy = PipelinePolicy()
        policy.poll = PollSchedule(
            mode: pollScheduleMode,
            firstDelay: .seconds(double: pollFirstDelaySeconds),
            interval: .seconds(double: pollIntervalSeconds),
            deadline: .seconds(double: pollDeadlineSeconds),
            denseInterval: .seconds(double: pollDenseIntervalSeconds)
        )
        policy.ambiguousSubmission = ambiguousSubmissionPolicy
        policy.queueLifetime = .seconds(double: queueLifetimeSeconds)
        policy.authenticationPause = Backoff(
            initial: .seconds(double: pauseSeconds),
            maximum: .seconds(double: max(pauseSeconds, 600)),
            jitter: 0.1
        )
        policy.webhookRetries = WebhookRetrySchedule(delays: webhookRetryScheduleSeconds.map { .seconds(double: $0) })
        // An API reached over plain http (a local simulator) may hand out http video links.
        policy.acceptsHTTPVideoURLs = apiBaseURL.lowercased().hasPrefix("http://")
        policy.videoStorage = VideoStoragePolicy(
            download: storeVideos,
            announceAfterDownload: announceAfterDownload,
            retry: VideoDownloadRetry(deadline: .seconds(double: downloadDeadlineSeconds)),
            keepLocal: keepLocal
        )
        policy.budget = budget
        return policy
    }

    public var addressPolicy: AddressPolicy {
        AddressPolicy(allowPrivateNetworks: allowPrivateNetworks, allowedNetworks: allowedNetworks)
    }

    /// The largest `api.max_concurrent_requests` accepted; also the HTTP client's connection-pool
    /// size, so that the pool never limits what the setting (live, through reloads) allows.
    public static let maximumConcurrentRequestsLimit = 1024

    // MARK: - Stopping within the unit's TimeoutStopSec=60s

    /// The longest `api.request_timeout_seconds` and `webhooks.timeout_seconds` accepted: with
    /// ``shutdownMargin`` and the cancellation limit after it, a stop ends within 50 s, safely
    /// under the unit's `TimeoutStopSec=60s`, so systemd never SIGKILLs a POST on the wire.
    public static let maximumRequestTimeoutSeconds = 40.0
    /// Time for the services ahead of the requests (health, intake) to stop first.
    public static let shutdownMargin = Duration.seconds(5)

    /// How long a graceful stop may take before work still in progress is cancelled: long enough
    /// for every API request and webhook attempt already on the wire when the stop began to finish
    /// (so a SIGTERM never leaves a POST's outcome unknown), at most 45 s.
    public var gracefulShutdownLimit: Duration {
        .seconds(double: max(requestTimeoutSeconds, webhookTimeoutSeconds)) + Self.shutdownMargin
    }
}

extension DaemonSettings {
    /// "5 built-in, 2 from files".
    public var modelSummary: String {
        let fromFiles = models.models.filter { $0.source != .builtIn }.count
        let builtIn = models.count - fromFiles
        return "\(builtIn) built-in, \(fromFiles) from files"
    }

    /// One line per setting, for `check-config`; no secrets (only where they come from).
    public var summary: [String] {
        [
            "spool.directory: \(spoolDirectory)",
            "spool.max_request_bytes: \(maximumRequestBytes)",
            "state.directory: \(stateDirectory)",
            "state.retention_days: \(retentionDays == 0 ? "0 (keep forever)" : "\(retentionDays)")",
            "state.backend: \(storeBackend.rawValue)",
            "api.base_url: \(apiBaseURL)",
            "api.key_file: \(apiKeyFile ?? "(credential 'api-key' or $AIMLAPI_API_KEY)")",
            "api.max_concurrent_requests: \(maximumConcurrentRequests)",
            "api.max_requests_per_second: \(maximumRequestsPerSecond)",
            "api.max_in_flight_generations: \(maximumInFlightGenerations)",
            "api.poll: \(pollScheduleMode.rawValue) (dense every \(pollDenseIntervalSeconds) s once learned); "
                + "first \(pollFirstDelaySeconds) s, every \(pollIntervalSeconds) s, deadline \(pollDeadlineSeconds) s",
            "api.ambiguous_submit_policy: \(ambiguousSubmissionPolicy.rawValue)",
            "webhooks.secret_file: \(webhookSecretFile ?? "(credential 'webhook-secret' or $VIDEOSPOOL_WEBHOOK_SECRET)")",
            "webhooks.default_urls: \(defaultCallbackURLs.count) URL(s)",
            "webhooks.retry_schedule_seconds: \(webhookRetryScheduleSeconds.map { String(Int($0)) }.joined(separator: ", "))",
            "webhooks.allow_private_networks: \(allowPrivateNetworks)",
            "results.download: \(storeVideos)"
                + (storeVideos
                    ? " (to \(resultsDirectory), at most \(maximumVideoBytes) bytes, \(maximumConcurrentDownloads) at once, "
                        + "deadline \(Int(downloadDeadlineSeconds)) s, announce after download: \(announceAfterDownload))"
                    : ""),
        ] + (s3.map { ["results.keep_local: \(keepLocal)"] + $0.summary } ?? ["results.s3: off"]) + [
            "models.directory: \(modelsDirectory) (\(modelSummary))",
            "models.allow_unlisted: \(allowUnlistedModels)",
            "budget: \(budgetSummary)",
            "log.level: \(logLevel.rawValue)",
            "metrics.listen: \(metricsListen.map { "\($0)" } ?? "(off)")",
        ]
    }

    /// The limits in force ("no limit" when none) and the estimate used until one is learned.
    var budgetSummary: String {
        let limits = budget.windows(now: Timestamp(millisecondsSinceEpoch: 0)).map { "\($0.limit)" }
        return (limits.isEmpty ? "no limit" : limits.joined(separator: ", "))
            + "; default estimate \(BudgetLimit.dollars(budget.defaultEstimateUSD)), "
            + "\(Int64(budget.creditsPerUSD)) credits per USD"
    }
}

/// `state.backend`: where the daemon keeps its jobs.
public enum StoreBackend: String, Sendable, Hashable, CaseIterable {
    /// SQLite in `state.directory`: one daemon owns the store.
    case sqlite
    /// A PostgreSQL database several daemons share (docs/several-hosts.md).
    case postgresql
}
