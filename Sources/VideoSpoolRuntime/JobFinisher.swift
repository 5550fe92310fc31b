import Logging
public import VideoSpoolCore

/// Ends a job: records its webhook event and one delivery per callback URL in the same transaction
/// as its terminal state, then hands the deliveries to the sender and the outcome to the writer.
public struct JobFinisher: Sendable {
    private let context: PipelineContext
    private let deliveries: DeliveryService
    private let outcomes: OutcomeWriter

    public init(context: PipelineContext, deliveries: DeliveryService, outcomes: OutcomeWriter) {
        self.context = context
        self.deliveries = deliveries
        self.outcomes = outcomes
    }

    /// `storage` is how storing the video ended, when the announcement waited for it.
    /// - Throws: ``LeaseLost`` when another daemon holds the job now (nothing was recorded).
    public func finish(_ job: Job, storage: VideoStorageOutcome? = nil) async throws {
        precondition(job.phase.hasOutcomeFile, "Invalid state: finishing a \(job.phase) job")
        let now = context.time.now()
        let event = WebhookPayload.finished(job, eventID: context.ids.eventID(at: now), now: now, storage: storage)
        let records = job.callbackURLs.enumerated().map { index, url in
            var delivery = Delivery(
                id: Delivery.ID(eventID: event.id, index: index),
                jobID: job.id,
                url: url,
                nextAttemptAt: now
            )
            delivery.fence = job.fence
            return delivery
        }
        guard try await context.commitHeld([.updateJob(job), .insertEvent(event, deliveries: records)]) else {
            throw LeaseLost(jobs: [job.id])
        }
        context.completionTimes.learn(from: job)
        context.metrics.jobFinished(job)
        var metadata: Logger.Metadata = [
            "event": job.phase == .completed ? "job.completed" : job.phase == .canceled ? "job.canceled" : "job.failed",
            "webhook.id": "\(event.id)",
        ]
        if let failure = job.failure {
            metadata["error.code"] = "\(failure.code)"
            metadata["error.message"] = "\(failure.message)"
            // Kept out of the store, the webhook and the outcome file, but the operator needs it.
            if let detail = failure.logDetail { metadata["error.detail"] = "\(detail)" }
        }
        context.counters.update { counts in
            // Canceled jobs count as failed in the status line: they ended without a video.
            if job.phase == .completed { counts.completed += 1 } else { counts.failed += 1 }
        }
        let logger = context.logger(for: job)
        if job.phase == .completed {
            logger.info("Generation completed", metadata: metadata)
        } else if job.phase == .canceled {
            logger.notice("Job canceled", metadata: metadata)
        } else {
            logger.warning("Job failed", metadata: metadata)
        }
        deliveries.add(records, event: event)
        outcomes.markStale(job.id)
    }
}
