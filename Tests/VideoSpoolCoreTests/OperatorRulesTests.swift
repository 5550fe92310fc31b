import Testing
import VideoSpoolCore

/// The pure parts of the operator commands: durations, states, elision, cancel and retry rules.
struct OperatorRulesTests {
    @Test func durationsAsOperatorsTypeThem() {
        #expect(TimeSpan.duration("30d") == .seconds(30 * 86400))
        #expect(TimeSpan.duration("1h30m") == .seconds(5400))
        #expect(TimeSpan.duration("45s") == .seconds(45))
        #expect(TimeSpan.duration("1w") == .seconds(604_800))
        #expect(TimeSpan.duration("0s") == .seconds(0))
        for bad in ["", "30", "d", "3x", "-1h", "1.5h", "h1"] { #expect(TimeSpan.duration(bad) == nil, "\(bad)") }
    }

    @Test func instantsAreRelativeOrISO8601() {
        let now = Timestamp(millisecondsSinceEpoch: 1_790_000_000_000)
        #expect(TimeSpan.instant("2h", now: now) == now - .seconds(7200))
        #expect(TimeSpan.instant("1970-01-02T00:00:00Z", now: now) == Timestamp(secondsSinceEpoch: 86400))
        #expect(TimeSpan.instant("1970-01-01T01:00:00+01:00", now: now) == Timestamp(secondsSinceEpoch: 0))
        #expect(TimeSpan.instant("1970-01-01T00:00:01.250Z", now: now) == Timestamp(millisecondsSinceEpoch: 1250))
        #expect(TimeSpan.instant("2026-11-25", now: now) == TimeSpan.instant("2026-11-25T00:00:00Z", now: now))
        #expect(TimeSpan.instant("2026-11-25T10:00", now: now) == nil, "a time needs a zone")
        #expect(TimeSpan.instant("yesterday", now: now) == nil)
    }

    @Test func relativeTimes() {
        let now = Timestamp(secondsSinceEpoch: 100_000)
        #expect(TimeSpan.relative(now, now: now) == "just now")
        #expect(TimeSpan.relative(now - .seconds(180), now: now) == "3 min ago")
        #expect(TimeSpan.relative(now - .seconds(7200), now: now) == "2 h ago")
        #expect(TimeSpan.relative(now - .seconds(4 * 86400), now: now) == "4 d ago")
        #expect(TimeSpan.relative(now + .seconds(120), now: now) == "in 2 min")
    }

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

    @Test func inlineMediaIsElidedAndQueriesRedacted() throws {
        let blob = String(repeating: "QUJD", count: 16 * 1024)  // 64 KiB of base64 = 48 KiB
        let request = try JSONParser().parse(
            #"{"prompt": "a cat", "image_url": "data:image/png;base64,\#(blob)", "raw": "\#(blob)", "#
                + #""ref": "https://example.com/a.png?token=secret"}"#
        )
        let shown = JSONWriter().string(RequestElision.elide(request))
        #expect(shown.contains(#""image_url":"<base64, 48 KB>""#))
        #expect(shown.contains(#""raw":"<base64, 48 KB>""#))
        #expect(shown.contains("a cat"))
        #expect(!shown.contains("secret"))
        #expect(RequestElision.elide("short words") == "short words")
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
