public import ServiceLifecycle
public import VideoSpoolCore

/// The daemon's services wired together: intake → submission → polling → delivery, with outcome
/// files kept current. ``recover()`` reloads the store before the services run.
public struct Pipeline: Sendable {
    public struct Limits: Sendable {
        /// `api.max_concurrent_requests`: HTTP requests to the API at once (submits and polls).
        public var maximumConcurrentRequests: Int
        /// `api.max_in_flight_generations`: jobs submitted and not yet finished.
        public var maximumInFlightGenerations: Int
        /// `api.max_requests_per_second`: API requests per second (submits and polls), in bursts of
        /// up to one second's worth.
        public var maximumRequestsPerSecond: Double

        public init(
            maximumConcurrentRequests: Int = 8,
            maximumInFlightGenerations: Int = 128,
            maximumRequestsPerSecond: Double = 1000
        ) {
            self.maximumConcurrentRequests = maximumConcurrentRequests
            self.maximumInFlightGenerations = maximumInFlightGenerations
            self.maximumRequestsPerSecond = maximumRequestsPerSecond
        }
    }

    public let context: PipelineContext
    public let intake: SpoolIntake
    public let submissions: SubmissionService
    public let polling: PollingService
    public let downloads: DownloadService
    public let deliveries: DeliveryService
    public let outcomes: OutcomeWriter
    public let finisher: JobFinisher
    public let requestSlots: RequestSlots
    public let generationSlots: RequestSlots
    /// Admits every API request; its adaptive concurrency sets ``requestSlots``' limit.
    public let rateLimiter: APIRateLimiter
    /// Adapts ``generationSlots``' limit to the API's answers to submissions.
    public let generationLimit: GenerationLimit

    public init(
        context: PipelineContext,
        spool: any SpoolDirectory,
        api: any GenerationAPI,
        transport: any WebhookTransport,
        signer: WebhookSigner,
        validator: RequestValidator,
        intake intakeConfiguration: SpoolIntake.Configuration,
        delivery deliveryConfiguration: DeliveryService.Configuration,
        downloader: any VideoDownloader = UnavailableVideoDownloader(),
        downloads downloadConfiguration: DownloadService.Configuration = DownloadService.Configuration(directory: "videos"),
        objects: (any VideoObjectStorage)? = nil,
        localVideos: (any StoredVideoFiles)? = nil,
        limits: Limits,
        startup: StartupProgress? = nil,
        spoolID: String? = nil
    ) {
        self.context = context
        let api = MeteredGenerationAPI(api: api, metrics: context.metrics)
        let transport = MeteredWebhookTransport(transport: transport, metrics: context.metrics)
        let downloader = MeteredVideoDownloader(downloader: downloader, metrics: context.metrics)
        self.requestSlots = RequestSlots(limit: limits.maximumConcurrentRequests)
        self.generationSlots = RequestSlots(limit: limits.maximumInFlightGenerations)
        self.rateLimiter = APIRateLimiter(
            requestsPerSecond: limits.maximumRequestsPerSecond,
            maximumConcurrency: limits.maximumConcurrentRequests,
            slots: requestSlots,
            time: context.time,
            logger: context.logger,
            metrics: context.metrics
        )
        self.generationLimit = GenerationLimit(
            maximum: limits.maximumInFlightGenerations,
            slots: generationSlots,
            time: context.time,
            logger: context.logger
        )
        self.outcomes = OutcomeWriter(context: context, spool: spool, spoolID: spoolID)
        self.deliveries = DeliveryService(
            context: context,
            transport: transport,
            signer: signer,
            outcomes: outcomes,
            configuration: deliveryConfiguration
        )
        self.finisher = JobFinisher(context: context, deliveries: deliveries, outcomes: outcomes)
        self.downloads = DownloadService(
            context: context,
            downloader: downloader,
            objects: objects,
            localVideos: localVideos,
            finisher: finisher,
            configuration: downloadConfiguration
        )
        self.polling = PollingService(
            context: context,
            api: api,
            requestSlots: requestSlots,
            generationSlots: generationSlots,
            rateLimiter: rateLimiter,
            finisher: finisher,
            downloads: downloads
        )
        self.submissions = SubmissionService(
            context: context,
            api: api,
            requestSlots: requestSlots,
            generationSlots: generationSlots,
            rateLimiter: rateLimiter,
            generationLimit: generationLimit,
            polling: polling,
            finisher: finisher
        )
        self.intake = SpoolIntake(
            context: context,
            spool: spool,
            validator: validator,
            configuration: intakeConfiguration,
            submissions: submissions,
            deliveries: deliveries,
            startup: startup
        )
    }

    /// In start order. A `ServiceGroup` shuts down in reverse, so intake stops taking files first,
    /// in-flight submissions and polls finish, downloads stop (resumed at the next start),
    /// deliveries finish, and outcome files are flushed last.
    public var services: [any Service] {
        [outcomes, deliveries, downloads, polling, submissions, intake]
    }

    /// Completed jobs the poll schedule learns from at start-up: enough to fill the windows of the
    /// keys in use (``CompletionTimeModel/Limits``), few enough to read in milliseconds.
    public static let completionsToLearnAtStart = 1000

    /// Resumes every job where the store says it was. Call once, before the services run.
    public func recover() async throws -> RecoveredState {
        let recovered = try await context.store.recover()
        context.completionTimes.seed(try await context.store.recentCompletions(limit: Self.completionsToLearnAtStart))
        context.counters.update { counts in
            counts.completed = recovered.finishedCounts[.completed, default: 0]
            counts.failed = recovered.finishedCounts[.failed, default: 0]
            counts.rejected = recovered.finishedCounts[.rejected, default: 0]
        }
        try await adopt(recovered)
        return recovered
    }

    /// Where every job stands right now.
    public var status: PipelineCounters.Snapshot {
        var snapshot = context.counters.snapshot
        let queue = submissions.queueStatus
        snapshot.queued = queue.queued
        snapshot.submitting = queue.submitting
        snapshot.generating = polling.generatingCount
        snapshot.storing = downloads.storingCount
        snapshot.downloadsStalled = downloads.stalledReason
        snapshot.delivering = deliveries.deliveringJobs
        snapshot.submissionsPaused = queue.pausedReason
        snapshot.pollingPaused = polling.pausedReason
        snapshot.storeUnavailable = context.store.availability.reason
        var limits = rateLimiter.status
        if let heldUntil = limits.heldUntil, heldUntil <= context.time.now() { limits.heldUntil = nil }
        if limits.concurrencyLimit < limits.maximumConcurrency || limits.heldUntil != nil {
            snapshot.apiLimits = limits
        }
        let generations = generationLimit.status
        if generations.isReduced { snapshot.generationLimit = generations }
        return snapshot
    }
}
