/// The transitions an operator asks for (`videospool cancel`, `videospool retry`). They are rules
/// like the others: pure, time as an argument, and a refusal says why in words for the terminal.
extension JobStateMachine {
    /// Ends a job that has not finished as `canceled`. The API has no cancel, so a generation
    /// already submitted keeps running upstream (and is billed); the daemon only stops polling it.
    public func cancel(_ job: inout Job, now: Timestamp) throws(OperatorRefusal) -> Action {
        guard !job.phase.isTerminal else {
            throw OperatorRefusal("job \(job.id) has already ended (\(job.phase.rawValue)); nothing to cancel")
        }
        guard job.phase != .storing else {
            // The generation is finished and billed; canceling could only lose the video. Storing
            // ends by itself: stored, or announced with `video.download_error` at the deadline.
            throw OperatorRefusal(
                "job \(job.id) has finished generating and its video is being stored; nothing to cancel "
                    + "(it is announced once stored, or with video.download_error at results.deadline_seconds)"
            )
        }
        let upstream =
            job.generationID.map {
                "; generation \($0) was already submitted and still runs upstream (the API has no cancel, so it is billed)"
            } ?? ""
        job.phase = .canceled
        job.failure = JobFailure(code: .canceled, message: "canceled by an operator" + upstream)
        job.finishedAt = now
        job.nextActionAt = nil
        return .finish
    }

    /// Sends a failed or canceled job round again as a new submission: it is queued with a fresh
    /// queue lifetime, forgetting its old generation. Its earlier terminal event stays as it was;
    /// receivers get a new one (with a new `webhook-id`) when the new attempt ends.
    public func retry(_ job: inout Job, now: Timestamp) throws(OperatorRefusal) -> Action {
        guard job.phase == .failed || job.phase == .canceled else {
            throw OperatorRefusal(
                "job \(job.id) is \(job.phase.rawValue); only failed or canceled jobs can be retried"
            )
        }
        requeue(&job)
        job.requeuedAt = now
        job.nextActionAt = now
        job.failure = nil
        job.finishedAt = nil
        job.generationID = nil
        job.submittedAt = nil
        job.upstreamStatus = nil
        job.videoURL = nil
        job.usage = nil
        job.polls = 0
        job.lastRunningAt = nil
        job.consecutivePollFailures = 0
        job.consecutiveNotFound = 0
        return .enqueue(at: now)
    }
}

/// Why an operator's request was not carried out, for the person who asked.
public struct OperatorRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
