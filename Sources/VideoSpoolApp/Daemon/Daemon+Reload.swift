import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import VideoSpoolCore
import VideoSpoolHTTP
import VideoSpoolObjectStorage
import VideoSpoolRuntime
import VideoSpoolSystemd

/// The settings in force and where to reload them from.
final class Reloading: Sendable {
    private let state: Mutex<DaemonSettings>
    let configPath: String?
    let variables: [String: String]

    init(settings: DaemonSettings, configPath: String?, variables: [String: String]) {
        self.state = Mutex(settings)
        self.configPath = configPath
        self.variables = variables
    }

    var current: DaemonSettings {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}

extension Daemon {
    /// Settings that only take effect after a restart; every other key applies on reload.
    public static let restartOnlyKeys = ["spool.directory", "state.directory", "api.base_url"]

    /// Re-reads the configuration file and credentials (SIGHUP, `systemctl reload`), applies what
    /// can be applied live, and reports `RELOADING=1` … `READY=1` to systemd. A configuration
    /// that does not load keeps the running one; the reason is logged.
    ///
    /// - Returns: whether the new configuration was applied.
    @discardableResult
    public func reload() async -> Bool {
        notifier.notify([.reloading(monotonicMicroseconds: SystemdNotifier.monotonicMicroseconds()), .status("reloading")])
        defer { notifier.notify([.ready, .status(pipeline.status.description)]) }
        do {
            let (settings, credentials) = try await SettingsLoader.load(
                path: reloading.configPath,
                environment: reloading.variables
            )
            let pending = apply(settings, credentials: credentials)
            logger.notice(
                "Configuration reloaded",
                metadata: [
                    "event": "daemon.reloaded",
                    "restart.required": "\(pending.isEmpty ? "none" : pending.joined(separator: ","))",
                    "models": "\(settings.modelSummary)",
                ]
            )
            return true
        } catch {
            logger.error(
                "Configuration reload failed; the running configuration stays in force",
                metadata: ["event": "reload.failed", "error": "\(error)"]
            )
            return false
        }
    }

    /// Applies new settings to the running components; returns the changed keys that need a
    /// restart to take effect.
    @discardableResult
    package func apply(_ settings: DaemonSettings, credentials: Credentials) -> [String] {
        let old = reloading.current
        var pending: [String] = []
        if settings.spoolDirectory != old.spoolDirectory { pending.append("spool.directory") }
        if settings.stateDirectory != old.stateDirectory { pending.append("state.directory") }
        if settings.apiBaseURL != old.apiBaseURL { pending.append("api.base_url") }
        // The results directory is created, and the download slots sized, at start.
        if settings.storeVideos != old.storeVideos { pending.append("results.download") }
        if settings.resultsDirectory != old.resultsDirectory { pending.append("results.directory") }
        if settings.maximumConcurrentDownloads != old.maximumConcurrentDownloads { pending.append("results.max_concurrent") }
        // The S3 client is made at start; its settings and credentials follow a reload.
        if (settings.s3 == nil) != (objectStorage == nil) { pending.append("results.s3") }
        if let objectStorage, let s3 = settings.s3, let s3Credentials = credentials.s3 {
            objectStorage.storage.update(configuration: s3.configuration, credentials: s3Credentials)
        }
        // The endpoint is bound, and the registry chosen, at start.
        if settings.metricsListen != old.metricsListen { pending.append("metrics.listen") }

        logSettings.level = settings.logLevel
        logSettings.setSecrets(credentials.secrets)
        api.update(apiKey: credentials.apiKey, requestTimeout: .seconds(double: settings.requestTimeoutSeconds))
        // Through the rate limiter: a limit that 429s lowered stays lowered and recovers from there.
        pipeline.rateLimiter.reconfigure(
            requestsPerSecond: settings.maximumRequestsPerSecond,
            maximumConcurrency: settings.maximumConcurrentRequests
        )
        pipeline.generationLimit.reconfigure(maximum: settings.maximumInFlightGenerations)
        var policy = settings.pipelinePolicy
        // api.base_url needs a restart, so whether http video links count follows the URL in use.
        policy.acceptsHTTPVideoURLs = old.pipelinePolicy.acceptsHTTPVideoURLs
        policy.videoStorage.download = old.storeVideos
        pipeline.context.updatePolicy(policy)
        // A limit raised or removed lets a held queue go at once.
        if policy.budget != old.pipelinePolicy.budget { pipeline.submissions.budgetChanged() }
        pipeline.deliveries.updateSigner(WebhookSigner(secret: credentials.webhookSecret))
        pipeline.deliveries.setMaximumConcurrentAttempts(settings.maximumConcurrentDeliveries)
        transport.update(settings.transportConfiguration)
        downloader.update(settings.downloaderConfiguration(userAgent: "videospool/\(Daemon.version)", allowHTTP: policy.acceptsHTTPVideoURLs))
        pipeline.intake.update(configuration: settings.intakeConfiguration, validator: settings.requestValidator)

        var kept = settings
        kept.spoolDirectory = old.spoolDirectory
        kept.stateDirectory = old.stateDirectory
        kept.apiBaseURL = old.apiBaseURL
        kept.storeVideos = old.storeVideos
        kept.resultsDirectorySetting = old.resultsDirectorySetting
        kept.maximumConcurrentDownloads = old.maximumConcurrentDownloads
        if (settings.s3 == nil) != (objectStorage == nil) {
            kept.s3 = old.s3
            kept.keepLocal = old.keepLocal
        }
        kept.metricsListen = old.metricsListen
        reloading.current = kept
        return pending
    }
}

/// Reloads the configuration on SIGHUP (`systemctl reload videospool`).
struct ReloadService: Service {
    enum Trigger: Sendable {
        /// SIGHUP, trapped when the service starts.
        case trapWhenRunning
        /// SIGHUP trapped earlier (so one that comes before the service runs is kept, not fatal).
        case signals(UnixSignalsSequence)
    }

    let daemon: Daemon
    let trigger: Trigger

    func run() async throws {
        let signals: UnixSignalsSequence
        switch trigger {
        case .trapWhenRunning: signals = await UnixSignalsSequence(trapping: .sighup)
        case .signals(let trapped): signals = trapped
        }
        for await _ in signals.cancelOnGracefulShutdown() {
            await daemon.reload()
        }
    }
}

extension DaemonSettings {
    var transportConfiguration: HTTPWebhookTransport.Configuration {
        HTTPWebhookTransport.Configuration(timeout: .seconds(double: webhookTimeoutSeconds), addressPolicy: addressPolicy)
    }

    /// `results.max_bytes` and `results.deadline_seconds` (one attempt never outlasts the deadline),
    /// http links only when the API is reached over http, the webhooks' address policy.
    func downloaderConfiguration(userAgent: String, allowHTTP: Bool? = nil) -> HTTPVideoDownloader.Configuration {
        HTTPVideoDownloader.Configuration(
            maximumBytes: maximumVideoBytes,
            timeout: .seconds(double: downloadDeadlineSeconds),
            allowHTTP: allowHTTP ?? apiBaseURL.lowercased().hasPrefix("http://"),
            addressPolicy: addressPolicy,
            userAgent: userAgent
        )
    }

    var intakeConfiguration: SpoolIntake.Configuration {
        SpoolIntake.Configuration(
            maximumRequestBytes: maximumRequestBytes,
            settleTime: .seconds(double: settleSeconds),
            rescanInterval: .seconds(double: rescanIntervalSeconds),
            defaultCallbackURLs: defaultCallbackURLs,
            duplicateWindow: .seconds(double: duplicateWindowSeconds)
        )
    }

    var requestValidator: RequestValidator {
        RequestValidator(
            options: .init(addressPolicy: addressPolicy, models: models, allowUnlistedModels: allowUnlistedModels)
        )
    }
}
