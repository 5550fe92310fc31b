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
public import VideoSpoolRuntime
public import VideoSpoolStore
public import VideoSpoolSystemd

/// The daemon assembled from settings: adapters, the pipeline, health reporting, reload, and the
/// service group that runs them.
public struct Daemon: Sendable {
    public static let version = "0.1.0"

    public let pipeline: Pipeline
    public let store: SQLiteJobStore
    public let spool: LocalSpoolDirectory
    public let startup: StartupProgress
    let api: HTTPGenerationAPI
    let apiClient: HTTPClient
    let transport: HTTPWebhookTransport
    let logger: Logger
    let logSettings: LogSettings
    let notifier: any ServiceManagerNotifier
    let health: HealthReporter
    let reloading: Reloading

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

        public init(
            logSettings: LogSettings,
            notifier: any ServiceManagerNotifier = SilentNotifier(),
            watchdogTimeout: Duration? = nil,
            configPath: String? = nil,
            variables: [String: String] = [:],
            time: any TimeSource = SystemTimeSource()
        ) {
            self.logSettings = logSettings
            self.notifier = notifier
            self.watchdogTimeout = watchdogTimeout
            self.configPath = configPath
            self.variables = variables
            self.time = time
        }
    }

    /// Creates the spool tree and the store and wires every component. Nothing runs yet.
    ///
    /// - Throws: ``ConfigurationError`` when a directory cannot be created or the store opened.
    public static func make(
        settings: DaemonSettings,
        credentials: Credentials,
        logger: Logger,
        environment: Environment? = nil
    ) throws -> Daemon {
        let environment = environment ?? Environment(logSettings: LogSettings(level: settings.logLevel))
        environment.logSettings.setSecrets([credentials.apiKey, credentials.webhookSecret.encoded])
        let spool = LocalSpoolDirectory(root: settings.spoolDirectory)
        do {
            try spool.prepare()
        } catch {
            throw ConfigurationError(key: "spool.directory", "\(error)")
        }
        let store: SQLiteJobStore
        do {
            try FileManager.default.createDirectory(atPath: settings.stateDirectory, withIntermediateDirectories: true)
            store = try SQLiteJobStore(directory: settings.stateDirectory, logger: logger)
        } catch {
            throw ConfigurationError(key: "state.directory", "cannot open the job store: \(error)")
        }
        let userAgent = "videospool/\(version)"

        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.redirectConfiguration = .disallow
        clientConfiguration.timeout = .init(connect: .seconds(10), read: nil)
        // Idle connections are dropped well before servers usually drop them, so a POST is rarely
        // written into a connection the server is closing (which would make its outcome unknown).
        clientConfiguration.connectionPool = .init(
            idleTimeout: .seconds(20),
            concurrentHTTP1ConnectionsPerHostSoftLimit: settings.maximumConcurrentRequests
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
        // Idle loops wake a few times per watchdog period to show they are alive.
        let heartbeats = Heartbeats(interval: environment.watchdogTimeout.map { $0 / 4 })
        let context = PipelineContext(
            store: store,
            time: environment.time,
            policy: settings.pipelinePolicy,
            heartbeats: heartbeats,
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
            limits: Pipeline.Limits(
                maximumConcurrentRequests: settings.maximumConcurrentRequests,
                maximumInFlightGenerations: settings.maximumInFlightGenerations,
                maximumRequestsPerSecond: settings.maximumRequestsPerSecond
            ),
            startup: startup
        )
        let health = HealthReporter(
            notifier: environment.notifier,
            heartbeats: heartbeats,
            startup: startup,
            time: environment.time,
            configuration: .init(watchdogTimeout: environment.watchdogTimeout),
            logger: logger,
            storeAvailability: { store.availability },
            status: { pipeline.status.description }
        )
        return Daemon(
            pipeline: pipeline,
            store: store,
            spool: spool,
            startup: startup,
            api: api,
            apiClient: apiClient,
            transport: transport,
            logger: logger,
            logSettings: environment.logSettings,
            notifier: environment.notifier,
            health: health,
            reloading: Reloading(
                settings: settings,
                configPath: environment.configPath,
                variables: environment.variables
            )
        )
    }

    /// The settings in force (changed by ``reload()``).
    public var settings: DaemonSettings { reloading.current }

    /// The service group. Shutdown runs in reverse order: the health reporter says STOPPING=1,
    /// intake stops taking files, in-flight requests get the API's request timeout to finish,
    /// deliveries finish, outcome files are flushed.
    public func serviceGroup(gracefulShutdownSignals signals: [UnixSignal], reloadOnSIGHUP: Bool = false) -> ServiceGroup {
        // Operator services start first so they stop last: their shutdown never holds up the pipeline's.
        var services: [any Service] = operatorServices + pipeline.services
        if reloadOnSIGHUP { services.append(ReloadService(daemon: self)) }
        services.append(health)
        var configuration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: signals,
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .seconds(double: settings.requestTimeoutSeconds + 5)
        configuration.maximumCancellationDuration = .seconds(5)
        return ServiceGroup(configuration: configuration)
    }

    /// Recovers the store, runs until a shutdown signal (reloading on SIGHUP), then closes
    /// connections.
    public func run(gracefulShutdownSignals signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let recovered = try await recover()
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
            try await serviceGroup(gracefulShutdownSignals: signals, reloadOnSIGHUP: true).run()
        } catch {
            try? await shutdown()
            throw error
        }
        try await shutdown()
        logger.notice("videospool stopped", metadata: ["event": "daemon.stopped"])
    }

    /// Recovers the store, asking systemd for time while it works.
    func recover() async throws -> RecoveredState {
        notifier.notify([.extendTimeout(.seconds(60)), .status("starting: recovering jobs")])
        return try await pipeline.recover()
    }

    /// Recovers the store and runs the daemon while `body` runs (no signal handling), then stops it
    /// gracefully and closes connections: for the demo, tests and embedding.
    public func run<Result: Sendable>(while body: @escaping @Sendable (Daemon) async throws -> Result) async throws -> Result {
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

    /// Closes the HTTP clients. Call once, after the service group has finished.
    public func shutdown() async throws {
        try await transport.shutdown()
        try await apiClient.shutdown()
    }
}

extension WebhookSecret {
    /// The secret as configured (`whsec_…`), for scrubbing it from logs.
    var encoded: String { "whsec_" + Data(key).base64EncodedString() }
}
