import Testing
import VideoSpoolCore

/// The pure parts of the operator commands: states, cancel and retry rules.
struct OperatorRulesTests {
    @Test func phasesFoldIntoOperatorStates() {
        #expect(JobState(phase: .generating, deliveriesPending: false) == .generating)
        #expect(JobState(phase: .completed, deliveriesPending: true) == .delivering)
        #expect(JobState(phase: .completed, deliveriesPending: false) == .done)
        #expect(JobState(phase: .rejected, deliveriesPending: false) == .failed)
        #expect(JobState(phase: .canceled, deliveriesPending: false) == .canceled)
        for phase in JobPhase.allCases {
            for pending in [false, true] where phase.isTerminal || !pending {
                let state = JobState(phase: phase, deliveriesPending: pending)
                #expect(state.phases.contains(phase))
            }
        }
    }

    static func job(_ phase: JobPhase) -> Job {
        var job = Job(
            id: JobID(trusted: "j"),
            phase: phase,
            model: "m",
            callbackURLs: [],
            metadata: nil,
            acceptedAt: Timestamp(secondsSinceEpoch: 0),
            sourceName: "j.json",
            parameters: GenerationParameters()
        )
        if phase == .generating { job.generationID = "gen-1" }
        return job
    }

    @Test func cancelEndsUnfinishedJobsAndSaysTheAPIHasNoCancel() throws {
        let machine = JobStateMachine(policy: PipelinePolicy())
        let now = Timestamp(secondsSinceEpoch: 10)
        var generating = Self.job(.generating)
        #expect(try machine.cancel(&generating, now: now) == .finish)
        #expect(generating.phase == .canceled)
        #expect(generating.failure?.code == .canceled)
        #expect(generating.failure?.message.contains("no cancel") == true)
        #expect(generating.finishedAt == now)
        var done = Self.job(.completed)
        #expect(throws: OperatorRefusal.self) { try machine.cancel(&done, now: now) }
        #expect(WebhookPayload.finished(generating, eventID: "msg_1", now: now).type == .canceled)
    }

    @Test func retryRequeuesOnlyFailedOrCanceledJobsWithAFreshQueueLifetime() throws {
        let machine = JobStateMachine(policy: PipelinePolicy())
        let now = Timestamp(secondsSinceEpoch: 1_000_000)
        var failed = Self.job(.failed)
        failed.generationID = "old"
        failed.failure = JobFailure(code: .timeout, message: "t")
        #expect(try machine.retry(&failed, now: now) == .enqueue(at: now))
        #expect(failed.phase == .queued && failed.generationID == nil && failed.failure == nil)
        #expect(failed.requeuedAt == now)
        var queued = Self.job(.queued)
        #expect(throws: OperatorRefusal.self) { try machine.retry(&queued, now: now) }
        var completed = Self.job(.completed)
        #expect(throws: OperatorRefusal.self) { try machine.retry(&completed, now: now) }
    }
}
