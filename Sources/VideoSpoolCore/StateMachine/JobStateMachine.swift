/// The rules of a job's life, from acceptance to a terminal phase.
///
/// The job is persisted data, so the machine holds only the rules: each method takes the job
/// `inout`, applies one event and returns the ``Action`` the runtime must perform once the new state
/// is committed. No I/O, no clock: time and randomness come in as arguments.
public struct JobStateMachine: Sendable {
    public enum Action: Sendable, Hashable {
        /// Put the job (back) in the submission queue, to be sent no earlier than `at`.
        case enqueue(at: Timestamp)
        /// The API refused the key, the account or the address (401, 403, 3xx): the job goes back to
        /// the queue's front, and ``AuthenticationPause`` decides whether and how long submissions pause.
        case pauseSubmissions(reason: String)
        /// Poll the generation at `at`.
        case poll(at: Timestamp)
        /// The API refused the status request (401, 403, 3xx): the job is polled again when
        /// ``AuthenticationPause`` lets polls through.
        case pausePolling(reason: String)
        /// The generation's video is to be stored (phase `storing`): download it at `at`.
        case storeVideo(at: Timestamp)
        /// The job reached a terminal phase: record its webhook event and write its outcome.
        case finish
    }

    public let policy: PipelinePolicy
    /// Completion times learned so far, for the learned poll schedule.
    public let completionTimes: CompletionTimeModel

    public init(policy: PipelinePolicy, completionTimes: CompletionTimeModel = CompletionTimeModel()) {
        self.policy = policy
        self.completionTimes = completionTimes
    }

    // MARK: - Submission

    /// The intent to POST, recorded before the request is sent.
    public func submissionStarted(_ job: inout Job, now: Timestamp) {
        precondition(job.phase == .queued, "Invalid state: submission started for \(job.phase) job \(job.id)")
        precondition(
            job.submitAttempts < job.submitAllowance,
            "Invalid state: job \(job.id) has used its \(job.submitAllowance) submission(s)"
        )
        job.phase = .submitting
        job.submitAttempts += 1
        job.nextActionAt = nil
    }

    public func submissionFinished(
        _ job: inout Job,
        exchange: APIExchange,
        now: Timestamp,
        using random: inout some RandomNumberGenerator
    ) -> Action {
        precondition(job.phase == .submitting, "Invalid state: submission finished for \(job.phase) job \(job.id)")
        switch exchange {
        case .notSent(let reason):
            return retrySubmission(&job, now: now, retryAfter: nil, reason: reason, using: &random)

        case .outcomeUnknown(let reason):
            return ambiguousSubmission(&job, now: now, reason: reason, using: &random)

        case .response(let response):
            switch response.statusCode {
            case 200..<300:
                guard let status = GenerationStatusResponse(body: response.body) else {
                    return ambiguousSubmission(
                        &job,
                        now: now,
                        reason: "HTTP \(response.statusCode) without a generation id",
                        using: &random
                    )
                }
                job.generationID = status.id
                job.submittedAt = now
                job.phase = .generating
                return apply(status, to: &job, now: now, using: &random)
            case 300..<400, 401, 403:
                // Nothing was created and nothing is wrong with the job: the key, the account or
                // api.base_url needs fixing. Keep the job queued and stop submitting until then.
                requeue(&job)
                job.nextActionAt = nil
                return .pauseSubmissions(reason: pauseReason(response))
            case 408, 425, 429, 502, 503:
                let retryAfter = response.retryAfter?.delay(from: now)
                return retrySubmission(
                    &job,
                    now: now,
                    retryAfter: retryAfter,
                    reason: "HTTP \(response.statusCode): \(response.message)",
                    using: &random
                )
            case 400..<500:
                return fail(
                    &job,
                    now: now,
                    code: .apiRejected,
                    message: "the API rejected the request (HTTP \(response.statusCode)): \(response.message)"
                )
            default:
                return ambiguousSubmission(
                    &job,
                    now: now,
                    reason: "HTTP \(response.statusCode): \(response.message)",
                    using: &random
                )
            }
        }
    }

    private func retrySubmission(
        _ job: inout Job,
        now: Timestamp,
        retryAfter: Duration?,
        reason: String,
        using random: inout some RandomNumberGenerator
    ) -> Action {
        requeue(&job)
        let delay = policy.submitBackoff.delay(forRetry: job.submitAttempts, retryAfter: retryAfter, using: &random)
        let next = now + delay
        if next > (job.requeuedAt ?? job.acceptedAt) + policy.queueLifetime {
            return fail(
                &job,
                now: now,
                code: .queueExpired,
                message: "not submitted within \(policy.queueLifetime.secondsDouble.formatted) of acceptance; "
                    + "last attempt: \(reason)"
            )
        }
        job.nextActionAt = next
        return .enqueue(at: next)
    }

    private func ambiguousSubmission(
        _ job: inout Job,
        now: Timestamp,
        reason: String,
        using random: inout some RandomNumberGenerator
    ) -> Action {
        switch policy.ambiguousSubmission {
        case .fail:
            return fail(
                &job,
                now: now,
                code: .submissionOutcomeUnknown,
                message: "the API did not confirm the submission (\(reason)); it was not re-sent, because the API "
                    + "has no idempotency key and a second POST could create and bill a second generation"
            )
        case .resubmit:
            return retrySubmission(&job, now: now, retryAfter: nil, reason: reason, using: &random)
        }
    }

    private func pauseReason(_ response: APIResponse) -> String {
        let meaning =
            switch response.statusCode {
            case 401: "the API key was not accepted"
            case 403: "the account may be out of credits"
            default: "the API redirected; check api.base_url"
            }
        return "HTTP \(response.statusCode) (\(meaning)): \(response.message)"
    }

    // MARK: - Polling

    public func pollFinished(
        _ job: inout Job,
        exchange: APIExchange,
        now: Timestamp,
        using random: inout some RandomNumberGenerator
    ) -> Action {
        precondition(job.phase == .generating, "Invalid state: poll finished for \(job.phase) job \(job.id)")
        switch exchange {
        case .notSent(let reason), .outcomeUnknown(let reason):
            return pollFailed(&job, now: now, retryAfter: nil, reason: reason, using: &random)
        case .response(let response):
            switch response.statusCode {
            case 200..<300:
                guard let status = GenerationStatusResponse(body: response.body) else {
                    return pollFailed(&job, now: now, retryAfter: nil, reason: "malformed response", using: &random)
                }
                job.polls += 1
                job.consecutivePollFailures = 0
                job.consecutiveNotFound = 0
                return apply(status, to: &job, now: now, using: &random)
            case 300..<400, 401, 403:
                return .pausePolling(reason: pauseReason(response))
            case 404:
                job.consecutiveNotFound += 1
                if job.consecutiveNotFound >= policy.notFoundLimit {
                    return fail(
                        &job,
                        now: now,
                        code: .generationNotFound,
                        message: "the API answered 404 to \(job.consecutiveNotFound) polls in a row: "
                            + response.message
                    )
                }
                return pollFailed(&job, now: now, retryAfter: nil, reason: "HTTP 404", using: &random)
            case 400, 422:
                return fail(
                    &job,
                    now: now,
                    code: .apiRejected,
                    message: "the API rejected the status request (HTTP \(response.statusCode)): \(response.message)"
                )
            default:
                return pollFailed(
                    &job,
                    now: now,
                    retryAfter: response.retryAfter?.delay(from: now),
                    reason: "HTTP \(response.statusCode): \(response.message)",
                    using: &random
                )
            }
        }
    }

    private func pollFailed(
        _ job: inout Job,
        now: Timestamp,
        retryAfter: Duration?,
        reason: String,
        using random: inout some RandomNumberGenerator
    ) -> Action {
        job.consecutivePollFailures += 1
        let deadline = policy.poll.deadline(submittedAt: job.submittedAt ?? now)
        if now >= deadline {
            return fail(
                &job,
                now: now,
                code: .timeout,
                message: "no result within \(policy.poll.deadline.secondsDouble.formatted) of submission; "
                    + "the last poll failed: \(reason)"
            )
        }
        let delay = policy.poll.failureBackoff.delay(
            forRetry: job.consecutivePollFailures,
            retryAfter: retryAfter,
            using: &random
        )
        let next = min(now + delay, deadline)
        job.nextActionAt = next
        return .poll(at: next)
    }

    /// Applies a status report from either endpoint to a job that has a generation id.
    private func apply(
        _ status: GenerationStatusResponse,
        to job: inout Job,
        now: Timestamp,
        using random: inout some RandomNumberGenerator
    ) -> Action {
        let submittedAt = job.submittedAt ?? now
        switch status.progress {
        case .completed:
            guard let url = status.videoURL, !url.isEmpty else {
                return fail(
                    &job,
                    now: now,
                    code: .missingVideoURL,
                    message: "the API reported the generation completed but gave no video URL"
                )
            }
            if let problem = policy.videoURLProblem(url) {
                // Billed all the same: the usage goes out with the failure.
                job.usage = status.usage
                job.upstreamStatus = status.status
                return fail(
                    &job,
                    now: now,
                    code: .invalidVideoURL,
                    message: "the API reported the generation completed, but its video URL \(problem); "
                        + "it was not passed on (the daemon's log has it)",
                    logDetail: Self.quotedForLog(url)
                )
            }
            job.phase = .completed
            job.upstreamStatus = status.status
            job.videoURL = url
            job.usage = status.usage
            job.finishedAt = now
            job.nextActionAt = nil
            if policy.videoStorage.holdsAnnouncement {
                // The webhook waits for the file; `finishedAt` stays the generation's end (it
                // dates the learned completion time and starts the storing deadline).
                job.phase = .storing
                job.nextActionAt = now
                return .storeVideo(at: now)
            }
            return .finish
        case .failed:
            job.usage = status.usage
            return fail(&job, now: now, code: .generationFailed, message: status.failureDescription)
        case .running, .unknown:
            job.upstreamStatus = status.status
            let deadline = policy.poll.deadline(submittedAt: submittedAt)
            if job.polls > 0, now >= deadline {
                return fail(
                    &job,
                    now: now,
                    code: .timeout,
                    message: "the generation was still '\(status.status)' \(policy.poll.deadline.secondsDouble.formatted) "
                        + "after submission (api.poll.deadline_seconds)"
                )
            }
            job.lastRunningAt = now
            let next = nextPoll(for: job, now: now, submittedAt: submittedAt, using: &random)
            job.nextActionAt = next
            return .poll(at: next)
        }
    }

    /// The next poll of a job that is still running: by its key's learned completion times when
    /// the schedule is learned and the key has enough of them, else by the fixed schedule.
    private func nextPoll(
        for job: Job,
        now: Timestamp,
        submittedAt: Timestamp,
        using random: inout some RandomNumberGenerator
    ) -> Timestamp {
        let schedule = policy.poll
        guard schedule.mode == .learned, let learned = completionTimes.distribution(for: CompletionTimeKey(job)) else {
            return job.polls == 0
                ? schedule.firstPoll(submittedAt: submittedAt)
                : schedule.nextPoll(now: now, submittedAt: submittedAt, using: &random)
        }
        return job.polls == 0
            ? schedule.firstPoll(submittedAt: submittedAt, learned: learned)
            : schedule.nextPoll(now: now, submittedAt: submittedAt, learned: learned, using: &random)
    }

    // MARK: - Restart

    /// What to do with a job found in the store at start-up.
    public func recovered(_ job: inout Job, now: Timestamp) -> Action? {
        switch job.phase {
        case .queued:
            return .enqueue(at: job.nextActionAt ?? now)
        case .submitting:
            switch policy.ambiguousSubmission {
            case .fail:
                return fail(
                    &job,
                    now: now,
                    code: .submissionOutcomeUnknown,
                    message: "the daemon stopped while this job's POST was in flight, so whether a generation was "
                        + "created is unknown; it was not re-sent, to avoid paying twice"
                )
            case .resubmit:
                requeue(&job)
                job.nextActionAt = now
                return .enqueue(at: now)
            }
        case .generating:
            // Polls that found the generation running were not stored, so the stored time is stale:
            // a completion seen by the next poll cannot be placed and teaches the schedule nothing.
            job.lastRunningAt = nil
            return .poll(at: job.nextActionAt ?? now)
        case .storing:
            // Stored or not, the file is not known to be complete: download again (the part file
            // left by the interrupted attempt is resumed where the server allows it).
            return .storeVideo(at: job.nextActionAt ?? now)
        case .completed, .failed, .rejected, .canceled:
            return nil
        }
    }

    // MARK: - Storing the video

    /// The video is stored: the job completes and its webhook goes out with the file.
    public func videoStored(_ job: inout Job, now: Timestamp) -> Action {
        precondition(job.phase == .storing, "Invalid state: video stored for \(job.phase) job \(job.id)")
        job.phase = .completed
        job.nextActionAt = nil
        return .finish
    }

    /// Attempt number `attempt` to store the video failed. Transient errors are retried with
    /// backoff until `results.deadline_seconds` after the generation finished; then, or after a
    /// permanent error, the job completes all the same and its webhook carries the upstream URL and
    /// `video.download_error`: nothing is held forever.
    public func videoStoreFailed(
        _ job: inout Job,
        error: VideoDownloadError,
        attempt: Int,
        now: Timestamp,
        using random: inout some RandomNumberGenerator
    ) -> Action {
        precondition(job.phase == .storing, "Invalid state: video store failed for \(job.phase) job \(job.id)")
        let elapsed = now - (job.finishedAt ?? now)
        let decision = policy.videoStorage.retry.decision(
            after: error,
            attempt: attempt,
            elapsed: elapsed,
            now: now,
            using: &random
        )
        switch decision {
        case .retry(let delay):
            let next = now + delay
            job.nextActionAt = next
            return .storeVideo(at: next)
        case .giveUp:
            job.phase = .completed
            job.nextActionAt = nil
            return .finish
        }
    }

    /// Back to the queue, allowed one more POST: every way back from `submitting` is a decision
    /// that the job may be sent again, committed with the requeue itself.
    func requeue(_ job: inout Job) {
        job.phase = .queued
        job.submitAllowance = job.submitAttempts + 1
    }

    // MARK: - Ending

    private func fail(
        _ job: inout Job,
        now: Timestamp,
        code: JobFailure.Code,
        message: String,
        logDetail: String? = nil
    ) -> Action {
        job.phase = .failed
        job.failure = JobFailure(code: code, message: message, logDetail: logDetail)
        job.finishedAt = now
        job.nextActionAt = nil
        return .finish
    }
}

extension JobStateMachine {
    /// An untrusted value as one quoted, escaped line (control characters and quotes escaped),
    /// cut to 2,048 characters: safe in a log line however hostile the value.
    static func quotedForLog(_ value: String) -> String {
        let limit = 2048
        let cut = value.count > limit
        let quoted = String(value.prefix(limit)).debugDescription
        return cut ? quoted + "… (\(value.utf8.count) bytes)" : quoted
    }
}

extension Double {
    /// "30 s", "15 min", "2 h": for messages.
    var formatted: String {
        if self >= 3600, self.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(self / 3600)) h" }
        if self >= 60, self.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(self / 60)) min" }
        if self == self.rounded() { return "\(Int(self)) s" }
        return "\(self) s"
    }
}
