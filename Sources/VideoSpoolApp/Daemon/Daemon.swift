import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization
public import UnixSignals
public import VideoSpoolCore
public import VideoSpoolFileSystem
import VideoSpoolHTTP
import VideoSpoolObjectStorage
import VideoSpoolPostgres
public import VideoSpoolRuntime
import VideoSpoolStore
public import VideoSpoolSystemd

/// The daemon assembled from settings: adapters, the pipeline, health reporting, reload, and the
/// service group that runs them.
public struct Daemon: Sendable {
    public static let version = "0.1.0"

    public let pipeline: Pipeline
    public let store: any JobStore & JobReports
    /// The shared store, whose connections run for the daemon's whole life; `nil` with SQLite.
    let sharedStore: PostgresJobStore?
    /// Who this daemon is to the store (``register()``).
    let instance: InstanceDescription
    public let spool: LocalSpoolDirectory
    public let startup: StartupProgress
    let api: HTTPGenerationAPI
    let apiClient: HTTPClient
    let transport: HTTPWebhookTransport
    let downloader: HTTPVideoDownloader
    /// `results.s3`; nil without.
    package let objectStorage: ObjectStorageConnection?
    let logger: Logger
    let logSettings: LogSettings
    let notifier: any ServiceManagerNotifier
    let health: HealthReporter
    let reloading: Reloading
    /// Held for the daemon's lifetime: no second daemon runs on the same state directory or spool.
    let ownership: DaemonOwnership
    /// The Prometheus registry `GET /metrics` serves; `nil` when `metrics.listen` is unset.
    public let metrics: DaemonMetrics?
    /// `metrics.listen` as it was at start (a reload does not move the endpoint).
    let metricsListen: MetricsListenAddress?

    /// What the daemon needs from its surroundings besides settings.
    public struct Environment: Sendable {
        public var logSettings: LogSettings
        public var notifier: any ServiceManagerNotifier
        /// `WatchdogSec=` as systemd passed it.
        public var watchdogTimeout: Duration?
        /// Where settings come from on reload (SIGHUP), and the environment credentials are read from.
        public var configPath: String?
        public var variables: [String: String]
        public var time: any TimeSource
        /// The registry the pipeline's metrics go to (`run` bootstraps swift-metrics with its
        /// factory); without one, a daemon with `metrics.listen` makes its own.
        public var metrics: DaemonMetrics?

        public init(
            logSettings: LogSettings,
            notifier: any ServiceManagerNotifier = SilentNotifier(),
            watchdogTimeout: Duration? = nil,
            configPath: String? = nil,
            variables: [String: String] = [:],
            time: any TimeSource = SystemTimeSource(),
            metrics: DaemonMetrics? = nil
        ) {
            self.logSettings = logSettings
            self.notifier = notifier
            self.watchdogTimeout = watchdogTimeout
            self.configPath = configPath
            self.variables = variables
            self.time = time
            self.metrics = metrics
        }
    }

    /// Takes ownership of the state directory and the spool, creates the spool tree and the store
    /// and wires every component. Nothing runs yet.
    ///
    /// - Parameter ownership: the directories' locks, already taken (``DaemonOwnership/claim(_:commandWait:logger:)``);
    ///   without it they are taken here, without waiting. Either way before the store is opened.
    /// - Throws: ``OwnershipError`` when another daemon owns a directory; ``ConfigurationError``
    ///   when a directory cannot be created or the store opened.
    public static func make(
        settings: DaemonSettings,
        credentials: Credentials,
        logger: Logger,
        environment: Environment? = nil,
        ownership: DaemonOwnership? = nil
    ) throws -> Daemon {
        let ownership = try ownership ?? DaemonOwnership.claimNow(DaemonOwnership.claims(for: settings))
        let environment = environment ?? Environment(logSettings: LogSettings(level: settings.logLevel))
        environment.logSettings.setSecrets(credentials.secrets)
        let spool = LocalSpoolDirectory(root: settings.spoolDirectory)
        let spoolID: String
        do {
            try spool.prepare()
            spoolID = try SpoolIdentity.read(spoolDirectory: settings.spoolDirectory)
        } catch {
            throw ConfigurationError(key: "spool.directory", "\(error)")
        }
        let instance = InstanceDescription(
            host: ProcessInfo.processInfo.hostName,
            pid: getpid(),
            version: version,
            spoolID: spoolID
        )
        let store: any JobStore & JobReports
        let sharedStore: PostgresJobStore?
        let leases: Ownership
        do {
            try FileManager.default.createDirectory(atPath: settings.stateDirectory, withIntermediateDirectories: true)
            if let postgresql = credentials.postgresql {
                let shared = try PostgresJobStore(
                    configuration: postgresql,
                    spoolID: spoolID,
                    logger: logger,
                    clock: { environment.time.now() }
                )
                (store, sharedStore) = (shared, shared)
                leases = Ownership(leaseDuration: postgresql.leaseDuration)
            } else {
                store = try SQLiteJobStore(directory: settings.stateDirectory, logger: logger)
                sharedStore = nil
                leases = Ownership(registration: InstanceRegistration(id: SQLiteJobStore.soleInstance, leaseDuration: nil))
            }
        } catch {
            throw ConfigurationError(key: "state.directory", "cannot open the job store: \(error)")
        }
        let userAgent = "videospool/\(version)"

        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.redirectConfiguration = .disallow
        clientConfiguration.timeout = .init(connect: .seconds(10), read: nil)
        // Idle connections are dropped well before servers usually drop them, so a POST is rarely
        // written into a connection the server is closing (which would make its outcome unknown).
        // The pool is no limit of its own: the rate limiter admits at most api.max_concurrent_requests
        // requests at once (and follows a reload), so there are never more connections than that.
        // A pool limit taken from the setting could not follow a reload (a client's pool is fixed),
        // and a raised setting would then queue requests inside the client, their deadlines running.
        clientConfiguration.connectionPool = .init(
            idleTimeout: .seconds(20),
            concurrentHTTP1ConnectionsPerHostSoftLimit: DaemonSettings.maximumConcurrentRequestsLimit
        )
        let apiClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        let api = HTTPGenerationAPI(
            client: apiClient,
            configuration: .init(
                baseURL: settings.apiBaseURL,
                apiKey: credentials.apiKey,
                requestTimeout: .seconds(double: settings.requestTimeoutSeconds),
                userAgent: userAgent
            ),
            logger: logger
        )
        let transport = HTTPWebhookTransport(
            configuration: settings.transportConfiguration,
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger
        )
        if settings.storeVideos {
            do {
                try FileManager.default.createDirectory(atPath: settings.resultsDirectory, withIntermediateDirectories: true)
            } catch {
                throw ConfigurationError(key: "results.directory", "cannot create \(settings.resultsDirectory): \(error)")
            }
        }
        let downloader = HTTPVideoDownloader(
            configuration: settings.downloaderConfiguration(userAgent: userAgent),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger
        )
        let objectStorage = ObjectStorageConnection.make(
            settings: settings,
            credentials: credentials.s3,
            time: environment.time,
            logger: logger
        )
        // Idle loops wake a few times per watchdog period to show they are alive.
        let heartbeats = Heartbeats(interval: environment.watchdogTimeout.map { $0 / 4 })
        let metrics = settings.metricsListen == nil ? nil : environment.metrics ?? DaemonMetrics()
        let pipelineMetrics = metrics.map { PipelineMetrics(factory: $0.factory, models: settings.models) } ?? .disabled
        pipelineMetrics.registerAlertingCounters()
        let context = PipelineContext(
            store: store,
            time: environment.time,
            policy: settings.pipelinePolicy,
            heartbeats: heartbeats,
            ownership: leases,
            metrics: pipelineMetrics,
            logger: logger
        )
        let startup = StartupProgress()
        let pipeline = Pipeline(
            context: context,
            spool: spool,
            api: api,
            transport: transport,
            signer: WebhookSigner(secret: credentials.webhookSecret),
            validator: settings.requestValidator,
            intake: settings.intakeConfiguration,
            delivery: DeliveryService.Configuration(
                maximumConcurrentAttempts: settings.maximumConcurrentDeliveries,
                userAgent: userAgent
            ),
            downloader: downloader,
            downloads: DownloadService.Configuration(
                directory: settings.resultsDirectory,
                maximumConcurrent: settings.maximumConcurrentDownloads
            ),
            objects: objectStorage?.videoObjects,
            localVideos: LocalResultsDirectory(path: settings.resultsDirectory),
            limits: Pipeline.Limits(
                maximumConcurrentRequests: settings.maximumConcurrentRequests,
                maximumInFlightGenerations: settings.maximumInFlightGenerations,
                maximumRequestsPerSecond: settings.maximumRequestsPerSecond
            ),
            startup: startup,
            spoolID: spoolID
        )
        let health = HealthReporter(
            notifier: environment.notifier,
            heartbeats: heartbeats,
            startup: startup,
            time: environment.time,
            configuration: .init(watchdogTimeout: environment.watchdogTimeout),
            logger: logger,
            storeAvailability: { store.availability },
            status: { Self.status(of: pipeline, sharedStore: sharedStore).description }
        )
        return Daemon(
            pipeline: pipeline,
            store: store,
            sharedStore: sharedStore,
            instance: instance,
            spool: spool,
            startup: startup,
            api: api,
            apiClient: apiClient,
            transport: transport,
            downloader: downloader,
            objectStorage: objectStorage,
            logger: logger,
            logSettings: environment.logSettings,
            notifier: environment.notifier,
            health: health,
            reloading: Reloading(
                settings: settings,
                configPath: environment.configPath,
                variables: environment.variables
            ),
            ownership: ownership,
            metrics: metrics,
            metricsListen: settings.metricsListen
        )
    }

    /// The settings in force (changed by ``reload()``).
    public var settings: DaemonSettings { reloading.current }

    /// The service group. Shutdown runs in reverse order: the health reporter says STOPPING=1,
    /// intake stops taking files, in-flight requests get the API's request timeout to finish,
    /// deliveries finish, outcome files are flushed. Its graceful-shutdown limit is
    /// ``DaemonSettings/gracefulShutdownLimit`` as it is now (``run(gracefulShutdownSignals:)``
    /// reads it when the stop begins instead, so that a reload applies).
    public func serviceGroup(gracefulShutdownSignals signals: [UnixSignal], reloadOnSIGHUP: Bool = false) -> ServiceGroup {
        serviceGroup(
            gracefulShutdownSignals: signals,
            reload: reloadOnSIGHUP ? .trapWhenRunning : nil,
            limit: settings.gracefulShutdownLimit
        )
    }

    private func serviceGroup(
        gracefulShutdownSignals signals: [UnixSignal],
        reload: ReloadService.Trigger?,
        limit: Duration?
    ) -> ServiceGroup {
        // Operator services start first so they stop last: their shutdown never holds up the pipeline's.
        // The shared store's lease keeper comes before them: it stops after the pipeline has
        // drained, then gives every job back.
        var services: [any Service] = metricsServices + sharedStoreServices + operatorServices + pipeline.services
        if let reload { services.append(ReloadService(daemon: self, trigger: reload)) }
        services.append(health)
        var configuration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: signals,
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = limit
        configuration.maximumCancellationDuration = Self.cancellationLimit
        return ServiceGroup(configuration: configuration)
    }

    /// How long cancelled work may take to unwind after the graceful limit; then the process
    /// aborts. With ``DaemonSettings/maximumGracefulShutdownLimit`` this keeps every stop under the
    /// unit's `TimeoutStopSec=60s`.
    public static let cancellationLimit = Duration.seconds(5)

    /// Recovers the store, runs until a shutdown signal (reloading on SIGHUP), then closes
    /// connections.
    public func run(gracefulShutdownSignals signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        try await withStoreRunning { try await runRegistered(gracefulShutdownSignals: signals) }
    }

    private func runRegistered(gracefulShutdownSignals signals: [UnixSignal]) async throws {
        let recovered = try await recover()
        // Trapped before the start is announced: from then on a signal is handled, never fatal
        // (SIGHUP's default action would end the process before the reload service runs).
        let stops = await UnixSignalsSequence(trapping: signals)
        let reloads = await UnixSignalsSequence(trapping: .sighup)
        logger.notice(
            "videospool started",
            metadata: [
                "event": "daemon.started", "spool": "\(settings.spoolDirectory)", "api": "\(settings.apiBaseURL)",
                "jobs.active": "\(recovered.activeJobs.count)",
                "deliveries.pending": "\(recovered.pendingDeliveries.count)",
                "models": "\(settings.modelSummary)",
            ]
        )
        do {
            try await runUntilSignalled(stops, reloads: reloads)
        } catch {
            try? await shutdown()
            throw error
        }
        try await shutdown()
        logger.notice("videospool stopped", metadata: ["event": "daemon.stopped"])
    }

    /// Runs the service group until a signal of `stops`, then stops it gracefully, cancelling what
    /// is left after the graceful-shutdown limit in force when the signal came. (The group's own
    /// limit is fixed when it is made, so a reload could not change it.)
    private func runUntilSignalled(_ stops: UnixSignalsSequence, reloads: UnixSignalsSequence) async throws {
        enum Ending: Sendable {
            case groupFinished
            case limitReached(Duration)
        }
        let group = serviceGroup(gracefulShutdownSignals: [], reload: .signals(reloads), limit: nil)
        try await withThrowingTaskGroup(of: Ending.self) { tasks in
            tasks.addTask {
                try await group.run()
                return .groupFinished
            }
            tasks.addTask {
                var iterator = stops.makeAsyncIterator()
                guard let signal = await iterator.next() else { return .groupFinished }
                let limit = settings.gracefulShutdownLimit
                logger.debug("Stopping", metadata: ["signal": "\(signal)", "limit": "\(limit)"])
                await group.triggerGracefulShutdown()
                try await Task.sleep(for: limit)
                return .limitReached(limit)
            }
            while let ending = try await tasks.next() {
                switch ending {
                case .groupFinished:
                    tasks.cancelAll()
                    return
                case .limitReached(let limit):
                    logger.warning(
                        "Graceful shutdown took longer than its limit; cancelling the work still in progress",
                        metadata: ["limit": "\(limit)"]
                    )
                    // Cancels the group (which gives its services `cancellationLimit` to unwind);
                    // the loop then waits for it to end.
                    tasks.cancelAll()
                }
            }
        }
    }

    /// Opens the store (on a shared store: waits for the database, migrates, registers), then
    /// recovers it, asking systemd for time while it works.
    func recover() async throws -> RecoveredState {
        try await register()
        notifier.notify([.extendTimeout(.seconds(60)), .status("starting: recovering jobs")])
        return try await pipeline.recover()
    }

    /// Recovers the store and runs the daemon while `body` runs (no signal handling), then stops it
    /// gracefully and closes connections: for the demo, tests and embedding.
    public func run<Result: Sendable>(while body: @escaping @Sendable (Daemon) async throws -> Result) async throws -> Result {
        try await withStoreRunning {
            do {
                _ = try await recover()
                let result = try await serviceGroup(gracefulShutdownSignals: []).run { try await body(self) }
                try await shutdown()
                return result
            } catch {
                try? await shutdown()
                throw error
            }
        }
    }

    /// Closes the HTTP clients. Call once, after the service group has finished.
    public func shutdown() async throws {
        try await transport.shutdown()
        try await downloader.shutdown()
        try await objectStorage?.shutdown()
        try await apiClient.shutdown()
    }

    /// Stored videos for retention: the results directory, and the objects in `results.s3`.
    var controlStorage: (videos: LocalResultsDirectory, objects: (any VideoObjectStorage)?) {
        (LocalResultsDirectory(path: settings.resultsDirectory), objectStorage?.videoObjects)
    }
}

extension WebhookSecret {
    /// The secret as configured (`whsec_…`), for scrubbing it from logs.
    var encoded: String { "whsec_" + Data(key).base64EncodedString() }
}
