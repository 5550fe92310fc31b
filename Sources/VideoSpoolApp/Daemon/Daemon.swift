import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
public import UnixSignals
public import VideoSpoolCore
public import VideoSpoolFileSystem
import VideoSpoolHTTP
public import VideoSpoolRuntime
public import VideoSpoolStore

/// The daemon assembled from settings: adapters, the pipeline, and the service group that runs it.
public struct Daemon: Sendable {
    public static let version = "0.1.0"

    public let settings: DaemonSettings
    public let pipeline: Pipeline
    public let store: SQLiteJobStore
    public let spool: LocalSpoolDirectory
    private let apiClient: HTTPClient
    private let transport: HTTPWebhookTransport
    private let logger: Logger

    /// Creates the spool tree and the store and wires every component. Nothing runs yet.
    ///
    /// - Throws: ``ConfigurationError`` when a directory cannot be created or the store opened.
    public static func make(
        settings: DaemonSettings,
        credentials: Credentials,
        logger: Logger,
        time: any TimeSource = SystemTimeSource()
    ) throws -> Daemon {
        let spool = LocalSpoolDirectory(root: settings.spoolDirectory)
        do {
            try spool.prepare()
        } catch {
            throw ConfigurationError(key: "spool.directory", "\(error)")
        }
        let store: SQLiteJobStore
        do {
            try FileManager.default.createDirectory(atPath: settings.stateDirectory, withIntermediateDirectories: true)
            store = try SQLiteJobStore(directory: settings.stateDirectory)
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
            configuration: .init(
                timeout: .seconds(double: settings.webhookTimeoutSeconds),
                addressPolicy: settings.addressPolicy
            ),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger
        )
        let context = PipelineContext(store: store, time: time, policy: settings.pipelinePolicy, logger: logger)
        let pipeline = Pipeline(
            context: context,
            spool: spool,
            api: api,
            transport: transport,
            signer: WebhookSigner(secret: credentials.webhookSecret),
            validator: RequestValidator(options: .init(addressPolicy: settings.addressPolicy)),
            intake: SpoolIntake.Configuration(
                maximumRequestBytes: settings.maximumRequestBytes,
                settleTime: .seconds(double: settings.settleSeconds),
                rescanInterval: .seconds(double: settings.rescanIntervalSeconds),
                defaultCallbackURLs: settings.defaultCallbackURLs
            ),
            delivery: DeliveryService.Configuration(
                maximumConcurrentAttempts: settings.maximumConcurrentDeliveries,
                userAgent: userAgent
            ),
            limits: Pipeline.Limits(
                maximumConcurrentRequests: settings.maximumConcurrentRequests,
                maximumInFlightGenerations: settings.maximumInFlightGenerations
            )
        )
        return Daemon(
            settings: settings,
            pipeline: pipeline,
            store: store,
            spool: spool,
            apiClient: apiClient,
            transport: transport,
            logger: logger
        )
    }

    /// The service group, shut down gracefully on `signals`. In-flight requests get the API's
    /// request timeout to finish before they are cancelled.
    public func serviceGroup(gracefulShutdownSignals signals: [UnixSignal]) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(
            services: pipeline.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: signals,
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .seconds(double: settings.requestTimeoutSeconds + 5)
        configuration.maximumCancellationDuration = .seconds(5)
        return ServiceGroup(configuration: configuration)
    }

    /// Recovers the store, runs until a shutdown signal, then closes connections.
    public func run(gracefulShutdownSignals signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let recovered = try await pipeline.recover()
        logger.notice(
            "videospool started",
            metadata: [
                "event": "daemon.started", "spool": "\(settings.spoolDirectory)", "api": "\(settings.apiBaseURL)",
                "jobs.active": "\(recovered.activeJobs.count)",
                "deliveries.pending": "\(recovered.pendingDeliveries.count)",
            ]
        )
        do {
            try await serviceGroup(gracefulShutdownSignals: signals).run()
        } catch {
            try? await shutdown()
            throw error
        }
        try await shutdown()
        logger.notice("videospool stopped", metadata: ["event": "daemon.stopped"])
    }

    /// Recovers the store and runs the daemon while `body` runs (no signal handling), then stops it
    /// gracefully and closes connections: for the demo, tests and embedding.
    public func run<Result: Sendable>(while body: @Sendable (Daemon) async throws -> Result) async throws -> Result {
        do {
            _ = try await pipeline.recover()
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
