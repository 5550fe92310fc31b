import Foundation
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolRuntime

/// The metrics work one burst job causes, done in this process on the daemon's own registry
/// (``DaemonMetrics``) and timed by this thread's CPU clock: a figure the machine's noise cannot
/// hide, to set beside the daemon's CPU per job.
enum MetricsEventCost {
    /// Microseconds of CPU per job, over `jobs` synthetic jobs.
    static func perJob(jobs: Int = 20_000) -> Double {
        let registry = DaemonMetrics()
        let metrics = PipelineMetrics(factory: registry.factory, models: .builtIn)
        metrics.registerAlertingCounters()
        let model = ModelSchema.seedance20Mini.model
        let accepted = Timestamp(secondsSinceEpoch: 1_800_000_000)
        let submitted = APIExchange.response(APIResponse(statusCode: 200))
        let started = threadCPUSeconds()
        for index in 0..<jobs {
            var job = Job(
                id: JobID("bench-\(index)")!,
                phase: .completed,
                model: model,
                callbackURLs: [],
                metadata: nil,
                acceptedAt: accepted,
                sourceName: "bench-\(index).json",
                parameters: GenerationParameters(resolution: "720p", durationSeconds: 5)
            )
            job.submittedAt = accepted
            job.lastRunningAt = accepted
            job.finishedAt = accepted + .seconds(1)
            job.polls = 1
            job.usage = Usage(creditsUsed: JSONNumber(120_000), usdSpent: JSONNumber(0.06))
            // What one job of the burst reports: accepted, a submit and a poll, finished, one
            // webhook attempt, and about six store commits.
            metrics.jobAccepted(job)
            metrics.apiRequest(.submit, exchange: submitted, latency: .microseconds(300))
            metrics.apiRequest(.poll, exchange: submitted, latency: .microseconds(200))
            metrics.jobFinished(job)
            metrics.webhookAttempt(.response(statusCode: 204, retryAfter: nil, location: nil), latency: .microseconds(250))
            for _ in 0..<6 { metrics.storeCommit(latency: .microseconds(800)) }
        }
        return (threadCPUSeconds() - started) * 1_000_000 / Double(jobs)
    }

    private static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
