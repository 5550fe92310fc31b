import Testing
import VideoSpoolCore

private let now = referenceTime
private let key = CompletionTimeKey(model: seedanceModel, resolution: "720p", durationSeconds: 5)

private func status(_ status: String) -> APIExchange {
    let video = status == "completed" ? #","video":{"url":"https://cdn.example.com/gen-1.mp4"}"# : ""
    return .response(APIResponse(statusCode: 200, body: Array(#"{"id":"gen-1","status":"\#(status)"\#(video)}"#.utf8)))
}

/// 100 completions at 101 s … 200 s for the test job's key: p5 = 105 s.
private let experienced = learnedModel((1...100).map { 100 + Double($0) }, key: key)

/// The job state machine with the learned poll schedule (no jitter, dense every 4 s).
struct LearnedPollingTests {
    private let policy = PipelinePolicy(poll: PollSchedule(jitter: 0, denseInterval: .seconds(4)))

    private func submitted(_ machine: JobStateMachine) -> (Job, JobStateMachine.Action) {
        var random = SplitMix64(seed: 1)
        var job = makeJob()
        machine.submissionStarted(&job, now: now)
        let action = machine.submissionFinished(&job, exchange: status("queued"), now: now, using: &random)
        return (job, action)
    }

    @Test func aSubmittedJobIsFirstPolledWhenCompletionBecomesLikely() {
        let (job, action) = submitted(JobStateMachine(policy: policy, completionTimes: experienced))
        guard case .poll(let at) = action else {
            Issue.record("expected .poll, got \(action)")
            return
        }
        #expect(abs((at - now).secondsDouble - 105) < 0.01)
        #expect(job.lastRunningAt == now, "the submission's answer is the first 'still running' report")
    }

    @Test func thenItIsPolledDensely() {
        let machine = JobStateMachine(policy: policy, completionTimes: experienced)
        var (job, _) = submitted(machine)
        var random = SplitMix64(seed: 1)
        let pollTime = now + .seconds(105)
        let action = machine.pollFinished(&job, exchange: status("generating"), now: pollTime, using: &random)
        #expect(action == .poll(at: pollTime + .seconds(4)))
        #expect(job.lastRunningAt == pollTime)
    }

    @Test func withTooFewCompletionsTheFixedScheduleApplies() {
        let sparse = learnedModel(Array(repeating: 100, count: 19), key: key)
        let (_, action) = submitted(JobStateMachine(policy: policy, completionTimes: sparse))
        #expect(action == .poll(at: now + .seconds(30)))
    }

    @Test func completionsOfOtherKindsOfJobDoNotCount() {
        let other = learnedModel(
            (1...100).map(Double.init),
            key: CompletionTimeKey(model: seedanceModel, resolution: "1080p", durationSeconds: 10)
        )
        let (_, action) = submitted(JobStateMachine(policy: policy, completionTimes: other))
        #expect(action == .poll(at: now + .seconds(30)))
    }

    @Test func theFixedModeIgnoresWhatWasLearned() {
        var fixed = policy
        fixed.poll.mode = .fixed
        let machine = JobStateMachine(policy: fixed, completionTimes: experienced)
        var (job, action) = submitted(machine)
        #expect(action == .poll(at: now + .seconds(30)))
        var random = SplitMix64(seed: 1)
        let next = machine.pollFinished(&job, exchange: status("generating"), now: now + .seconds(30), using: &random)
        #expect(next == .poll(at: now + .seconds(45)))
    }

    @Test func theDeadlineStillEndsAJob() {
        var short = policy
        short.poll.deadline = .seconds(120)
        let machine = JobStateMachine(policy: short, completionTimes: experienced)
        var (job, _) = submitted(machine)
        var random = SplitMix64(seed: 1)
        var clock = now + .seconds(105)
        while true {
            let action = machine.pollFinished(&job, exchange: status("generating"), now: clock, using: &random)
            guard case .poll(let at) = action else { break }
            #expect(at <= now + .seconds(120))
            clock = at
        }
        #expect(job.failure?.code == .timeout)
        #expect(clock == now + .seconds(120))
    }

    @Test func aCompletionIsObservedBetweenTheLastTwoPolls() throws {
        let machine = JobStateMachine(policy: policy, completionTimes: experienced)
        var (job, _) = submitted(machine)
        var random = SplitMix64(seed: 1)
        _ = machine.pollFinished(&job, exchange: status("generating"), now: now + .seconds(105), using: &random)
        let action = machine.pollFinished(&job, exchange: status("completed"), now: now + .seconds(109), using: &random)
        #expect(action == .finish)
        let observation = try #require(CompletionObservation(job: job))
        #expect(observation.after == 105)
        #expect(observation.before == 109)
    }

    @Test func aRestartForgetsTheLastRunningReport() {
        let machine = JobStateMachine(policy: policy, completionTimes: experienced)
        var (job, _) = submitted(machine)
        job.nextActionAt = now + .seconds(105)
        #expect(machine.recovered(&job, now: now + .seconds(200)) == .poll(at: now + .seconds(105)))
        #expect(job.lastRunningAt == nil, "polls since the last write were not stored")
    }
}
