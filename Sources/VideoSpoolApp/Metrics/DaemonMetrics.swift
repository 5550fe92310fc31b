public import CoreMetrics
import Prometheus
import Synchronization
public import VideoSpoolRuntime

/// The daemon's Prometheus registry: the pipeline's counters and histograms arrive through
/// swift-metrics (``factory``); the gauges of what stands now (jobs per phase, limits, pauses,
/// the process) are set from the pipeline's status just before each scrape (``exposition(of:)``).
public final class DaemonMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// The swift-metrics backend: the pipeline's metrics land in ``registry``.
    public let factory: any MetricsFactory
    /// CPU seconds already added to the counter (it only goes up by the difference).
    private let reportedCPUSeconds = Mutex(0.0)

    public init() {
        factory = DocumentedPrometheusFactory(
            registry: registry,
            durationBuckets: Self.durationBuckets,
            valueBuckets: Self.valueBuckets
        )
    }

    /// Buckets fitted to each timing: API requests take milliseconds to the request timeout,
    /// generations minutes, commits well under a second.
    static let durationBuckets: [String: [Duration]] = [
        PipelineMetrics.Name.apiRequestDuration: seconds([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
        PipelineMetrics.Name.webhookAttemptDuration: seconds([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15]),
        PipelineMetrics.Name.storeCommitDuration: seconds([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5]),
        PipelineMetrics.Name.generationDuration: seconds([10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1800]),
        PipelineMetrics.Name.completionPollGap: seconds([0.1, 0.25, 0.5, 1, 2, 4.5, 7.5, 10, 15, 30, 60]),
        PipelineMetrics.Name.videoDownloadDuration: seconds([0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 3600]),
    ]

    static let valueBuckets: [String: [Double]] = [
        PipelineMetrics.Name.pollsPerJob: [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100]
    ]

    private static func seconds(_ values: [Double]) -> [Duration] { values.map { .seconds($0) } }

    public enum Name {
        public static let jobs = "videospool_jobs"
        public static let apiConcurrencyLimit = "videospool_api_concurrency_limit"
        public static let apiConcurrencyMaximum = "videospool_api_concurrency_maximum"
        public static let apiHeld = "videospool_api_held"
        public static let generationsLimit = "videospool_api_generations_in_flight_limit"
        public static let generationsMaximum = "videospool_api_generations_in_flight_maximum"
        public static let apiPaused = "videospool_api_paused"
        public static let storeAvailable = "videospool_store_available"
        public static let budgetReached = "videospool_budget_reached"
        public static let downloadsStalled = "videospool_downloads_stalled"
        public static let deliveriesPending = "videospool_webhook_deliveries_pending"
        // The names every Prometheus client library gives these, so existing dashboards work.
        public static let cpuSeconds = "process_cpu_seconds_total"
        public static let residentBytes = "process_resident_memory_bytes"
        public static let openFiles = "process_open_fds"
    }

    /// Sets the gauges from `pipeline` as it stands, then renders the registry in Prometheus' text format.
    public func exposition(of pipeline: Pipeline) -> [UInt8] {
        update(
            status: pipeline.status,
            limits: pipeline.rateLimiter.status,
            generations: pipeline.generationLimit.status,
            pendingDeliveries: pipeline.deliveries.pendingDeliveries
        )
        return registry.emitToBuffer()
    }

    private func update(
        status: PipelineCounters.Snapshot,
        limits: APIRateLimiter.Status,
        generations: GenerationLimit.Status,
        pendingDeliveries: Int
    ) {
        func gauge(_ name: String, _ dimensions: [(String, String)], _ value: Int) {
            CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory).record(value)
        }
        for (phase, count) in [
            ("queued", status.queued), ("submitting", status.submitting), ("generating", status.generating),
            ("storing", status.storing), ("delivering", status.delivering),
        ] {
            gauge(Name.jobs, [("phase", phase)], count)
        }
        gauge(Name.apiConcurrencyLimit, [], limits.concurrencyLimit)
        gauge(Name.apiConcurrencyMaximum, [], limits.maximumConcurrency)
        gauge(Name.generationsLimit, [], generations.limit)
        gauge(Name.generationsMaximum, [], generations.maximum)
        // The status line drops a hold whose time has passed; so does this gauge.
        gauge(Name.apiHeld, [], status.apiLimits?.heldUntil == nil ? 0 : 1)
        gauge(Name.apiPaused, [("loop", "submissions")], status.submissionsPaused == nil ? 0 : 1)
        gauge(Name.apiPaused, [("loop", "polling")], status.pollingPaused == nil ? 0 : 1)
        gauge(Name.storeAvailable, [], status.storeUnavailable == nil ? 1 : 0)
        gauge(Name.budgetReached, [], status.budgetReached == nil ? 0 : 1)
        gauge(Name.downloadsStalled, [], status.downloadsStalled == nil ? 0 : 1)
        gauge(Name.deliveriesPending, [], pendingDeliveries)

        let process = ProcessStatistics.read()
        if let cpu = process.cpuSeconds {
            let added = reportedCPUSeconds.withLock { reported in
                defer { reported = max(reported, cpu) }
                return max(0, cpu - reported)
            }
            FloatingPointCounter(label: Name.cpuSeconds, factory: factory).increment(by: added)
        }
        if let resident = process.residentBytes {
            CoreMetrics.Gauge(label: Name.residentBytes, factory: factory).record(resident)
        }
        if let open = process.openFiles {
            CoreMetrics.Gauge(label: Name.openFiles, factory: factory).record(open)
        }
    }
}
