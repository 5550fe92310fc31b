import Testing
import VideoSpoolCore

private let now = referenceTime

private func response(
    _ statusCode: Int,
    _ body: String = "",
    retryAfter: RetryAfter? = nil
) -> APIExchange {
    .response(APIResponse(statusCode: statusCode, retryAfter: retryAfter, body: Array(body.utf8)))
}

private let accepted = #"{"id":"gen-1","status":"queued"}"#
private let generating = #"{"id":"gen-1","status":"generating"}"#
private let completed = """
    {"id":"gen-1","status":"completed","video":{"url":"https://cdn.example.com/gen-1.mp4"},\
    "meta":{"usage":{"credits_used":126000,"usd_spent":0.063}}}
    """

/// The delay an action asks for, from `now`.
private func delay(of action: JobStateMachine.Action, from start: Timestamp = now) -> Duration? {
    switch action {
    case .enqueue(let at), .poll(let at), .storeVideo(let at): at - start
    case .pauseSubmissions, .pausePolling, .finish: nil
    }
}

private func seconds(_ duration: Duration?) -> Double {
    duration?.secondsDouble ?? .nan
}

struct JobStateMachineTests {
    private let machine = JobStateMachine(policy: PipelinePolicy())

    private func machine(ambiguous: AmbiguousSubmissionPolicy) -> JobStateMachine {
        JobStateMachine(policy: PipelinePolicy(ambiguousSubmission: ambiguous))
    }

    /// A job that has just started its first submission.
    private func submittingJob(acceptedAt: Timestamp = now) -> Job {
        var job = makeJob(phase: .queued, acceptedAt: acceptedAt)
        machine.submissionStarted(&job, now: now)
        return job
    }

    /// A job submitted at `submittedAt` that has been polled `polls` times.
    private func generatingJob(submittedAt: Timestamp = now, polls: Int = 1) -> Job {
        var job = makeJob(phase: .generating, acceptedAt: submittedAt - .seconds(5))
        job.submitAttempts = 1
        job.generationID = "gen-1"
        job.submittedAt = submittedAt
        job.upstreamStatus = "queued"
        job.polls = polls
        return job
    }

    // MARK: - Submission

    @Test func startingASubmissionRecordsTheAttempt() {
        var job = makeJob(phase: .queued)
        job.nextActionAt = now
        machine.submissionStarted(&job, now: now)
        #expect(job.phase == .submitting)
        #expect(job.submitAttempts == 1)
        #expect(job.nextActionAt == nil)
        #expect(job.phase.holdsGenerationSlot)
    }

    @Test func everySubmissionAttemptIsCounted() {
        var random = SplitMix64(seed: 42)
        var job = submittingJob()
        _ = machine.submissionFinished(&job, exchange: response(503), now: now, using: &random)
        #expect(job.phase == .queued)
        machine.submissionStarted(&job, now: now + .seconds(3))
        #expect(job.submitAttempts == 2)
    }

    @Test(arguments: [200, 201, 202])
    func anAcceptedSubmissionStartsPolling(statusCode: Int) {
        var random = SplitMix64(seed: 1)
        var job = submittingJob()
        let action = machine.submissionFinished(&job, exchange: response(statusCode, accepted), now: now, using: &random)
        #expect(job.phase == .generating)
        #expect(job.generationID == "gen-1")
        #expect(job.submittedAt == now)
        #expect(job.upstreamStatus == "queued")
        #expect(job.polls == 0)
        #expect(action == .poll(at: now + PollSchedule().firstDelay))
        #expect(job.nextActionAt == now + .seconds(30))
    }

    @Test func aSubmissionAnsweredWithACompletedVideoFinishesAtOnce() {
        var random = SplitMix64(seed: 42)
        var job = submittingJob()
        let action = machine.submissionFinished(&job, exchange: response(200, completed), now: now, using: &random)
        #expect(action == .finish)
        #expect(job.phase == .completed)
        #expect(job.videoURL == "https://cdn.example.com/gen-1.mp4")
    }

    @Test func aSubmissionAnsweredWithAnErrorFails() {
        var random = SplitMix64(seed: 42)
        var job = submittingJob()
        let body = #"{"id":"gen-1","status":"error","error":{"name":"BadPrompt","message":"flagged"}}"#
        let action = machine.submissionFinished(&job, exchange: response(200, body), now: now, using: &random)
        #expect(action == .finish)
        #expect(job.failure == JobFailure(code: .generationFailed, message: "BadPrompt: flagged"))
        #expect(job.generationID == "gen-1")
    }

    @Test func a429WithRetryAfterRequeuesNoEarlierThanAsked() {
        var random = SplitMix64(seed: 42)
        var job = submittingJob()
        let action = machine.submissionFinished(
            &job,
            exchange: response(429, #"{"message":"slow down"}"#, retryAfter: .seconds(120)),
            now: now,
            using: &random
        )
        #expect(job.phase == .queued)
        #expect(action == .enqueue(at: now + .seconds(120)))
        #expect(job.nextActionAt == now + .seconds(120))
        #expect(job.failure == nil)
    }

    @Test func aRetryAfterDateIsHonoured() {
        var random = SplitMix64(seed: 42)
        var job = submittingJob()
        let action = machine.submissionFinished(
            &job,
            exchange: response(503, retryAfter: .date(now + .seconds(90))),
            now: now,
            using: &random
        )
        #expect(action == .enqueue(at: now + .seconds(90)))
    }

    @Test func anAbsurdRetryAfterIsCappedAtAnHour() {
        var random = SplitMix64(seed: 42)
        var job = submittingJob()
        let action = machine.submissionFinished(
            &job,
            exchange: response(429, retryAfter: .seconds(1_000_000)),
            now: now,
            using: &random
        )
        #expect(action == .enqueue(at: now + .seconds(3600)))
    }

    static let retryableSubmissionFailures: [APIExchange] = [
        .notSent(reason: "connection refused"),
        response(408),
        response(425),
        response(429),
        response(502, "<html>Bad Gateway</html>"),
        response(503),
    ]

    @Test(arguments: JobStateMachineTests.retryableSubmissionFailures)
    func aSubmissionThatCertainlyDidNotLandIsRetriedWithBackoff(exchange: APIExchange) {
        for seed in jitterSeeds {
            var random = SplitMix64(seed: seed)
            var job = submittingJob()
            let action = machine.submissionFinished(&job, exchange: exchange, now: now, using: &random)
            guard case .enqueue(let at) = action else {
                Issue.record("expected .enqueue, got \(action)")
                return
            }
            #expect(job.phase == .queued)
            #expect(job.nextActionAt == at)
            #expect(job.failure == nil)
            // Default submit backoff: 2 s ± 20 % for the first retry.
            #expect((1.6...2.4).contains(seconds(at - now)), "seed \(seed): \(at - now)")
        }
    }

    @Test func laterSubmissionRetriesWaitLonger() {
        var random = SplitMix64(seed: 9)
        var job = makeJob(phase: .queued)
        var start = now
        for attempt in 1...12 {
            machine.submissionStarted(&job, now: start)
            let action = machine.submissionFinished(&job, exchange: response(503), now: start, using: &random)
            let expected = min(2 * pow2(attempt - 1), 300)
            let waited = seconds(delay(of: action, from: start))
            #expect(waited >= expected * 0.8 && waited <= expected * 1.2, "attempt \(attempt): \(waited) s")
            guard case .enqueue(let at) = action else { return }
            start = at
        }
        #expect(job.submitAttempts == 12)
    }

    @Test(arguments: [400, 404, 409, 413, 415, 422])
    func aRejectedSubmissionFailsWithTheAPIMessage(statusCode: Int) {
        var random = SplitMix64(seed: 3)
        var job = submittingJob()
        let body = #"{"statusCode":\#(statusCode),"message":"prompt must be shorter than 2000 characters"}"#
        let action = machine.submissionFinished(&job, exchange: response(statusCode, body), now: now, using: &random)
        #expect(action == .finish)
        #expect(job.phase == .failed)
        #expect(job.failure?.code == .apiRejected)
        #expect(job.failure?.message.contains("prompt must be shorter than 2000 characters") == true)
        #expect(job.failure?.message.contains("HTTP \(statusCode)") == true)
        #expect(job.finishedAt == now)
        #expect(job.nextActionAt == nil)
    }

    @Test func aNestedErrorMessageIsUsedToo() {
        var random = SplitMix64(seed: 42)
        var job = submittingJob()
        _ = machine.submissionFinished(
            &job,
            exchange: response(422, #"{"error":{"message":"image_url is unreachable"}}"#),
            now: now,
            using: &random
        )
        #expect(job.failure?.message.contains("image_url is unreachable") == true)
    }

    /// How long the pause lasts is ``AuthenticationPause``'s business (`AuthenticationPauseTests`).
    @Test(arguments: [401, 403, 301, 302, 307, 308])
    func anAuthenticationFailureOrRedirectPausesSubmissionsAndRequeuesTheJob(statusCode: Int) {
        var random = SplitMix64(seed: 7)
        var job = submittingJob()
        let action = machine.submissionFinished(
            &job,
            exchange: response(statusCode, #"{"message":"nope"}"#),
            now: now,
            using: &random
        )
        guard case .pauseSubmissions(let reason) = action else {
            Issue.record("expected .pauseSubmissions, got \(action)")
            return
        }
        #expect(job.phase == .queued)
        #expect(job.nextActionAt == nil)
        #expect(job.failure == nil)
        #expect(reason.contains("HTTP \(statusCode)"))
        #expect(reason.contains("nope"))
    }

    static let ambiguousSubmissions: [APIExchange] = [
        response(500),
        response(504),
        response(599),
        .outcomeUnknown(reason: "read timeout"),
        response(200, ""),
        response(200, "not json"),
        response(200, #"{"status":"queued"}"#),
        response(201, #"{"id":"","status":"queued"}"#),
        response(200, #"{"id":"gen-1"}"#),
    ]

    @Test(arguments: JobStateMachineTests.ambiguousSubmissions)
    func anAmbiguousSubmissionFailsUnderTheFailPolicy(exchange: APIExchange) {
        var random = SplitMix64(seed: 5)
        var job = submittingJob()
        let action = machine(ambiguous: .fail).submissionFinished(&job, exchange: exchange, now: now, using: &random)
        #expect(action == .finish)
        #expect(job.phase == .failed)
        #expect(job.failure?.code == .submissionOutcomeUnknown)
        #expect(job.generationID == nil)
        #expect(job.finishedAt == now)
    }

    @Test(arguments: JobStateMachineTests.ambiguousSubmissions)
    func anAmbiguousSubmissionIsResentUnderTheResubmitPolicy(exchange: APIExchange) {
        var random = SplitMix64(seed: 5)
        var job = submittingJob()
        let action = machine(ambiguous: .resubmit).submissionFinished(&job, exchange: exchange, now: now, using: &random)
        guard case .enqueue(let at) = action else {
            Issue.record("expected .enqueue, got \(action)")
            return
        }
        #expect(job.phase == .queued)
        #expect(job.failure == nil)
        #expect(at > now)
    }

    @Test func theDefaultPolicyNeverPaysTwice() {
        #expect(PipelinePolicy().ambiguousSubmission == .fail)
    }

    @Test func aRetryPastTheQueueLifetimeExpiresTheJob() {
        var random = SplitMix64(seed: 42)
        var job = submittingJob(acceptedAt: now - .seconds(86_400) + .seconds(1))
        let action = machine.submissionFinished(&job, exchange: .notSent(reason: "DNS failure"), now: now, using: &random)
        #expect(action == .finish)
        #expect(job.phase == .failed)
        #expect(job.failure?.code == .queueExpired)
        #expect(job.failure?.message.contains("DNS failure") == true)
    }

    @Test func aRetryAfterBeyondTheQueueLifetimeExpiresTheJob() {
        var random = SplitMix64(seed: 42)
        let policy = PipelinePolicy(queueLifetime: .seconds(60))
        var job = makeJob(phase: .queued, acceptedAt: now)
        JobStateMachine(policy: policy).submissionStarted(&job, now: now)
        let action = JobStateMachine(policy: policy).submissionFinished(
            &job,
            exchange: response(429, retryAfter: .seconds(120)),
            now: now,
            using: &random
        )
        #expect(action == .finish)
        #expect(job.failure?.code == .queueExpired)
    }

    @Test func aRetryWithinTheQueueLifetimeIsKept() {
        var random = SplitMix64(seed: 42)
        let policy = PipelinePolicy(queueLifetime: .seconds(200))
        var job = makeJob(phase: .queued, acceptedAt: now)
        JobStateMachine(policy: policy).submissionStarted(&job, now: now)
        let action = JobStateMachine(policy: policy).submissionFinished(
            &job,
            exchange: response(429, retryAfter: .seconds(120)),
            now: now,
            using: &random
        )
        #expect(action == .enqueue(at: now + .seconds(120)))
    }

    // MARK: - Polling

    @Test(arguments: ["queued", "generating", "processing", "pending", "QUEUED"])
    func aRunningGenerationIsPolledAgainAfterTheInterval(status: String) {
        for seed in jitterSeeds {
            var random = SplitMix64(seed: seed)
            var job = generatingJob()
            job.consecutivePollFailures = 2
            job.consecutiveNotFound = 1
            let pollTime = now + .seconds(60)
            let action = machine.pollFinished(
                &job,
                exchange: response(200, #"{"id":"gen-1","status":"\#(status)"}"#),
                now: pollTime,
                using: &random
            )
            guard case .poll(let at) = action else {
                Issue.record("expected .poll, got \(action)")
                return
            }
            #expect((13.5...16.5).contains(seconds(at - pollTime)), "15 s ± 10 %, got \(at - pollTime)")
            #expect(job.nextActionAt == at)
            #expect(job.phase == .generating)
            #expect(job.polls == 2)
            #expect(job.upstreamStatus == status.lowercased())
            #expect(job.consecutivePollFailures == 0)
            #expect(job.consecutiveNotFound == 0)
        }
    }

    @Test func aCompletedGenerationKeepsItsVideoAndUsage() throws {
        var random = SplitMix64(seed: 42)
        var job = generatingJob()
        let finishTime = now + .seconds(95)
        let action = machine.pollFinished(&job, exchange: response(200, completed), now: finishTime, using: &random)
        #expect(action == .finish)
        #expect(job.phase == .completed)
        #expect(job.videoURL == "https://cdn.example.com/gen-1.mp4")
        let usage = try #require(job.usage)
        #expect(usage.creditsUsed?.text == "126000")
        #expect(usage.usdSpent?.text == "0.063")
        #expect(job.finishedAt == finishTime)
        #expect(job.nextActionAt == nil)
        #expect(job.failure == nil)
        #expect(job.upstreamStatus == "completed")
        #expect(job.phase.isTerminal)
    }

    @Test(arguments: [
        #"{"id":"gen-1","status":"completed"}"#,
        #"{"id":"gen-1","status":"completed","video":null}"#,
        #"{"id":"gen-1","status":"completed","video":{"url":""}}"#,
        #"{"id":"gen-1","status":"completed","video":{"url":42}}"#,
    ])
    func aCompletedGenerationWithoutAVideoURLFails(body: String) {
        var random = SplitMix64(seed: 7)
        var job = generatingJob()
        let action = machine.pollFinished(&job, exchange: response(200, body), now: now + .seconds(60), using: &random)
        #expect(action == .finish)
        #expect(job.phase == .failed)
        #expect(job.failure?.code == .missingVideoURL)
        #expect(job.videoURL == nil)
    }

    @Test func aFailedGenerationReportsNameAndMessage() {
        var random = SplitMix64(seed: 42)
        var job = generatingJob()
        let body = """
            {"id":"gen-1","status":"error","error":{"name":"ContentPolicyViolation","message":"the prompt was flagged"},\
            "meta":{"usage":{"credits_used":0,"usd_spent":0}}}
            """
        let action = machine.pollFinished(&job, exchange: response(200, body), now: now + .seconds(40), using: &random)
        #expect(action == .finish)
        #expect(job.phase == .failed)
        #expect(job.failure == JobFailure(code: .generationFailed, message: "ContentPolicyViolation: the prompt was flagged"))
        #expect(job.usage?.creditsUsed?.text == "0")
        #expect(job.finishedAt == now + .seconds(40))
    }

    @Test(arguments: ["failed", "cancelled", "canceled", "expired", "FAILED"])
    func failureSynonymsEndTheJob(status: String) {
        var random = SplitMix64(seed: 8)
        var job = generatingJob()
        let action = machine.pollFinished(
            &job,
            exchange: response(200, #"{"id":"gen-1","status":"\#(status)"}"#),
            now: now + .seconds(40),
            using: &random
        )
        #expect(action == .finish)
        #expect(job.failure?.code == .generationFailed)
        #expect(job.failure?.message.contains(status.lowercased()) == true)
    }

    @Test func anUnknownStatusKeepsPolling() {
        var random = SplitMix64(seed: 42)
        var job = generatingJob()
        let action = machine.pollFinished(
            &job,
            exchange: response(200, #"{"id":"gen-1","status":"rendering_frames"}"#),
            now: now + .seconds(40),
            using: &random
        )
        guard case .poll = action else {
            Issue.record("expected .poll, got \(action)")
            return
        }
        #expect(job.phase == .generating)
        #expect(job.upstreamStatus == "rendering_frames")
    }

    @Test(arguments: [0, 1, 60])
    func aGenerationStillRunningAtTheDeadlineTimesOut(secondsPastDeadline: Int64) {
        var random = SplitMix64(seed: 10)
        var job = generatingJob()
        let at = now + PollSchedule().deadline + .seconds(secondsPastDeadline)
        let action = machine.pollFinished(&job, exchange: response(200, generating), now: at, using: &random)
        #expect(action == .finish)
        #expect(job.phase == .failed)
        #expect(job.failure?.code == .timeout)
        #expect(job.failure?.message.contains("generating") == true)
    }

    @Test func aGenerationCompletedAfterTheDeadlineStillCounts() {
        var random = SplitMix64(seed: 42)
        var job = generatingJob()
        let action = machine.pollFinished(
            &job,
            exchange: response(200, completed),
            now: now + .seconds(4000),
            using: &random
        )
        #expect(action == .finish)
        #expect(job.phase == .completed)
    }

    @Test func theLastPollBeforeTheDeadlineIsScheduledAtTheDeadline() {
        for seed in jitterSeeds.prefix(50) {
            var random = SplitMix64(seed: seed)
            var job = generatingJob()
            let deadline = now + PollSchedule().deadline
            let action = machine.pollFinished(
                &job,
                exchange: response(200, generating),
                now: deadline - .seconds(5),
                using: &random
            )
            #expect(action == .poll(at: deadline))
        }
    }

    @Test func threeNotFoundAnswersInARowLoseTheGeneration() {
        var random = SplitMix64(seed: 42)
        var job = generatingJob()
        var clock = now + .seconds(30)
        for round in 1...2 {
            let action = machine.pollFinished(&job, exchange: response(404), now: clock, using: &random)
            guard case .poll(let at) = action else {
                Issue.record("404 number \(round) should keep polling, got \(action)")
                return
            }
            #expect(job.consecutiveNotFound == round)
            clock = at
        }
        let action = machine.pollFinished(
            &job,
            exchange: response(404, #"{"message":"generation not found"}"#),
            now: clock,
            using: &random
        )
        #expect(action == .finish)
        #expect(job.failure?.code == .generationNotFound)
        #expect(job.failure?.message.contains("generation not found") == true)
    }

    @Test func aGoodPollResetsTheNotFoundCount() {
        var random = SplitMix64(seed: 42)
        var job = generatingJob()
        var clock = now + .seconds(30)
        let exchanges = [response(404), response(404), response(200, generating), response(404), response(404)]
        for exchange in exchanges {
            let action = machine.pollFinished(&job, exchange: exchange, now: clock, using: &random)
            guard case .poll(let at) = action else {
                Issue.record("expected to keep polling, got \(action)")
                return
            }
            clock = at
        }
        #expect(job.consecutiveNotFound == 2)
        #expect(job.phase == .generating)
    }

    @Test func theNotFoundLimitIsConfigurable() {
        var random = SplitMix64(seed: 42)
        let strict = JobStateMachine(policy: PipelinePolicy(notFoundLimit: 1))
        var job = generatingJob()
        #expect(strict.pollFinished(&job, exchange: response(404), now: now + .seconds(30), using: &random) == .finish)
        #expect(job.failure?.code == .generationNotFound)
    }

    static let transientPollFailures: [APIExchange] = [
        .notSent(reason: "connection refused"),
        .outcomeUnknown(reason: "read timeout"),
        response(500),
        response(502),
        response(503),
        response(504),
        response(429),
        response(408),
        response(200, "<html>oops</html>"),
        response(200, #"{"status":"queued"}"#),
    ]

    @Test(arguments: JobStateMachineTests.transientPollFailures)
    func aTransientPollFailureBacksOff(exchange: APIExchange) {
        for seed in jitterSeeds.prefix(50) {
            var random = SplitMix64(seed: seed)
            var job = generatingJob()
            let pollTime = now + .seconds(60)
            let action = machine.pollFinished(&job, exchange: exchange, now: pollTime, using: &random)
            guard case .poll(let at) = action else {
                Issue.record("expected .poll, got \(action)")
                return
            }
            // Default failure backoff: 5 s ± 20 % for the first failure.
            #expect((4.0...6.0).contains(seconds(at - pollTime)), "got \(at - pollTime)")
            #expect(job.consecutivePollFailures == 1)
            #expect(job.polls == 1, "a failed poll is not a poll")
            #expect(job.phase == .generating)
        }
    }

    @Test(arguments: JobStateMachineTests.transientPollFailures)
    func transientFailuresNeverPassTheDeadline(exchange: APIExchange) {
        var random = SplitMix64(seed: 11)
        var job = generatingJob()
        let deadline = now + PollSchedule().deadline
        var clock = now + .seconds(30)
        var previousDelay = Duration.zero
        var rounds = 0
        while true {
            rounds += 1
            if rounds > 1000 {
                Issue.record("never finished")
                return
            }
            let action = machine.pollFinished(&job, exchange: exchange, now: clock, using: &random)
            switch action {
            case .poll(let at):
                #expect(at <= deadline)
                #expect(at > clock)
                let delay = at - clock
                #expect(delay <= .seconds(144), "the failure backoff is capped at 120 s + 20 %")
                if at < deadline, rounds < 5 { #expect(delay > previousDelay, "backoff grows") }
                previousDelay = delay
                clock = at
            case .finish:
                #expect(clock >= deadline)
                #expect(job.failure?.code == .timeout)
                #expect(job.failure?.message.contains("the last poll failed") == true)
                return
            default:
                Issue.record("unexpected \(action)")
                return
            }
        }
    }

    @Test func aPollRetryAfterIsHonoured() {
        var random = SplitMix64(seed: 42)
        var job = generatingJob()
        let action = machine.pollFinished(
            &job,
            exchange: response(429, retryAfter: .seconds(90)),
            now: now + .seconds(60),
            using: &random
        )
        #expect(action == .poll(at: now + .seconds(150)))
    }

    @Test func aPollRetryAfterCannotPassTheDeadline() {
        var random = SplitMix64(seed: 42)
        var job = generatingJob()
        let action = machine.pollFinished(
            &job,
            exchange: response(503, retryAfter: .seconds(3600)),
            now: now + .seconds(60),
            using: &random
        )
        #expect(action == .poll(at: now + PollSchedule().deadline))
    }

    @Test(arguments: [401, 403, 301, 307])
    func anAuthenticationFailureOrRedirectPausesPolling(statusCode: Int) {
        var random = SplitMix64(seed: 12)
        var job = generatingJob()
        let before = job
        let pollTime = now + .seconds(60)
        let action = machine.pollFinished(&job, exchange: response(statusCode), now: pollTime, using: &random)
        guard case .pausePolling(let reason) = action else {
            Issue.record("expected .pausePolling, got \(action)")
            return
        }
        #expect(job == before, "a refused poll tells nothing about the generation")
        #expect(reason.contains(statusCode == 401 ? "API key" : statusCode == 403 ? "credits" : "api.base_url"))
    }

    @Test(arguments: [400, 422])
    func aRejectedStatusRequestFails(statusCode: Int) {
        var random = SplitMix64(seed: 13)
        var job = generatingJob()
        let action = machine.pollFinished(
            &job,
            exchange: response(statusCode, #"{"message":"generation_id is malformed"}"#),
            now: now + .seconds(60),
            using: &random
        )
        #expect(action == .finish)
        #expect(job.failure?.code == .apiRejected)
        #expect(job.failure?.message.contains("generation_id is malformed") == true)
    }

    // MARK: - Restart

    @Test func aQueuedJobIsRequeuedOnRecovery() {
        var job = makeJob(phase: .queued)
        #expect(machine.recovered(&job, now: now) == .enqueue(at: now))
        job.nextActionAt = now + .seconds(50)
        #expect(machine.recovered(&job, now: now) == .enqueue(at: now + .seconds(50)))
        #expect(job.phase == .queued)
    }

    @Test func aJobCaughtMidSubmissionFailsUnderTheFailPolicy() {
        var job = submittingJob()
        let action = machine(ambiguous: .fail).recovered(&job, now: now + .seconds(10))
        #expect(action == .finish)
        #expect(job.phase == .failed)
        #expect(job.failure?.code == .submissionOutcomeUnknown)
        #expect(job.finishedAt == now + .seconds(10))
    }

    @Test func aJobCaughtMidSubmissionIsResentUnderTheResubmitPolicy() {
        var job = submittingJob()
        let action = machine(ambiguous: .resubmit).recovered(&job, now: now + .seconds(10))
        #expect(action == .enqueue(at: now + .seconds(10)))
        #expect(job.phase == .queued)
        #expect(job.failure == nil)
    }

    @Test func aGeneratingJobResumesPolling() {
        var job = generatingJob()
        job.nextActionAt = now + .seconds(45)
        #expect(machine.recovered(&job, now: now) == .poll(at: now + .seconds(45)))
        job.nextActionAt = nil
        #expect(machine.recovered(&job, now: now + .seconds(7)) == .poll(at: now + .seconds(7)))
        #expect(job.phase == .generating)
    }

    @Test(arguments: [JobPhase.completed, .failed, .rejected])
    func aFinishedJobNeedsNothingOnRecovery(phase: JobPhase) {
        var job = makeJob(phase: phase)
        let before = job
        #expect(machine.recovered(&job, now: now) == nil)
        #expect(job == before)
    }

    // MARK: - Phases

    @Test func onlyCompletedFailedRejectedAndCanceledAreTerminal() {
        #expect(JobPhase.allCases.filter(\.isTerminal) == [.completed, .failed, .rejected, .canceled])
        #expect(JobPhase.allCases.filter(\.holdsGenerationSlot) == [.submitting, .generating])
    }
}

private func pow2(_ exponent: Int) -> Double {
    Double(1 << exponent)
}
