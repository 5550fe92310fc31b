import Foundation
public import Logging
public import ServiceLifecycle
public import VideoSpoolCore
public import VideoSpoolRuntime

/// A pipeline over in-memory fakes, run as a service group for the duration of a test body.
public struct PipelineHarness: Sendable {
    /// The data of the store (shared by every daemon on a shared store).
    public let store: InMemoryJobStore
    /// The store the pipeline uses: `store` itself, or one daemon's view of a shared store.
    public let jobStore: any JobStore
    public let spool: InMemorySpoolDirectory
    public let api: ScriptedGenerationAPI
    public let transport: RecordingWebhookTransport
    public let pipeline: Pipeline
    public let secret: WebhookSecret

    /// Fast timings for tests: polls after 10 ms, retries after 10 ms.
    public static var fastPolicy: PipelinePolicy {
        var policy = PipelinePolicy()
        policy.submitBackoff = Backoff(initial: .milliseconds(10), maximum: .milliseconds(50), jitter: 0)
        policy.poll = PollSchedule(
            firstDelay: .milliseconds(10),
            interval: .milliseconds(10),
            jitter: 0,
            deadline: .seconds(30),
            failureBackoff: Backoff(initial: .milliseconds(10), maximum: .milliseconds(50), jitter: 0),
            denseInterval: .milliseconds(10)
        )
        policy.authenticationPause = Backoff(initial: .milliseconds(50), maximum: .milliseconds(200), jitter: 0)
        policy.webhookRetries = WebhookRetrySchedule(
            delays: [.milliseconds(10), .milliseconds(10), .milliseconds(10)],
            jitter: 0,
            overloadPenalty: .milliseconds(10)
        )
        return policy
    }

    public static let testSecret = try! WebhookSecret(parsing: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

    /// One daemon of several on `shared`, registered as `registration`.
    public init(
        shared: InMemorySharedStore.View,
        registration: InstanceRegistration,
        api: ScriptedGenerationAPI = ScriptedGenerationAPI(),
        transport: RecordingWebhookTransport = RecordingWebhookTransport(),
        policy: PipelinePolicy = PipelineHarness.fastPolicy,
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.init(
            store: shared.shared.data,
            jobStore: shared,
            ownership: Ownership(registration: registration),
            api: api,
            transport: transport,
            policy: policy,
            logger: logger
        )
    }

    public init(
        store: InMemoryJobStore = InMemoryJobStore(),
        jobStore: (any JobStore)? = nil,
        ownership: Ownership? = nil,
        spool: InMemorySpoolDirectory = InMemorySpoolDirectory(),
        api: ScriptedGenerationAPI = ScriptedGenerationAPI(),
        transport: RecordingWebhookTransport = RecordingWebhookTransport(),
        policy: PipelinePolicy = PipelineHarness.fastPolicy,
        limits: Pipeline.Limits = Pipeline.Limits(),
        intake: SpoolIntake.Configuration = SpoolIntake.Configuration(settleTime: .zero, rescanInterval: .seconds(60)),
        delivery: DeliveryService.Configuration = DeliveryService.Configuration(),
        downloader: any VideoDownloader = UnavailableVideoDownloader(),
        downloads: DownloadService.Configuration = DownloadService.Configuration(directory: "/videos"),
        objects: (any VideoObjectStorage)? = nil,
        localVideos: (any StoredVideoFiles)? = nil,
        validator: RequestValidator = RequestValidator(options: .init(addressPolicy: AddressPolicy(allowPrivateNetworks: true))),
        startup: StartupProgress? = nil,
        time: any TimeSource = SystemTimeSource(),
        metrics: PipelineMetrics = .disabled,
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.store = store
        self.jobStore = jobStore ?? store
        self.spool = spool
        self.api = api
        self.transport = transport
        self.secret = Self.testSecret
        let context = PipelineContext(
            store: self.jobStore,
            time: time,
            policy: policy,
            ownership: ownership
                ?? Ownership(registration: InstanceRegistration(id: InstanceID("local"), leaseDuration: nil)),
            metrics: metrics,
            logger: logger
        )
        self.pipeline = Pipeline(
            context: context,
            spool: spool,
            api: api,
            transport: transport,
            signer: WebhookSigner(secret: Self.testSecret),
            validator: validator,
            intake: intake,
            delivery: delivery,
            downloader: downloader,
            downloads: downloads,
            objects: objects,
            localVideos: localVideos,
            limits: limits,
            startup: startup
        )
    }

    /// Recovers the store, runs the services while `body` runs, then shuts them down gracefully.
    public func run<Result: Sendable>(
        with extraServices: [any Service] = [],
        _ body: @escaping @Sendable (PipelineHarness) async throws -> Result
    ) async throws -> Result {
        _ = try await pipeline.recover()
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: (pipeline.services + extraServices).map { .init(service: $0) },
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
        )
        return try await group.run { try await body(self) }
    }
}

/// Request file bytes for tests.
public enum TestRequests {
    public static func seedance(
        prompt: String = "a test video",
        jobID: String? = nil,
        callbackURL: String? = "https://receiver.test/hook",
        extra: JSONObject = JSONObject()
    ) -> [UInt8] {
        var object = JSONObject([
            "model": .string(ModelSchema.seedance20Mini.model),
            "prompt": .string(prompt),
            "duration": .int(5),
        ])
        if let jobID { object["job_id"] = .string(jobID) }
        if let callbackURL { object["callback_url"] = .string(callbackURL) }
        for (key, value) in extra { object[key] = value }
        return JSONWriter().bytes(.object(object))
    }
}
