import Foundation
import Testing
import VideoSpoolApp
import VideoSpoolCore
import VideoSpoolFileSystem
import VideoSpoolRuntime
import VideoSpoolSimulator
import VideoSpoolTesting

/// The AI/ML API misbehaving in every way the issue lists, against the real daemon: each fault
/// ends the way docs/guarantees.md (faults), docs/webhooks.md (failure codes) and `JobStateMachine`
/// say, with the matching webhook and outcome file, and no job is submitted twice unless
/// `resubmit` asks for it.
@Suite(.timeLimit(.minutes(3)))
struct UpstreamFaultTests {
    /// One fault and what it must lead to.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var faults: [FaultRule] = []
        /// Simulator tags appended to the prompt (`[sim:error]`, `[sim:never]`).
        var tags = ""
        var ambiguousSubmission = AmbiguousSubmissionPolicy.fail
        var requestTimeoutSeconds = 30.0
        var pollDeadlineSeconds = 1800.0
        /// The failure code, or `nil` for a completed job.
        var failure: String?
        /// POSTs that reached the simulator (each is one of the job's `submit_attempts`).
        var posts = 1
        /// Generations the simulator created (and would bill) for the job.
        var generations = 1
        /// A `Retry-After` the next request on this endpoint must wait for.
        var retryAfter: (endpoint: FaultRule.Endpoint, seconds: Double)?

        var testDescription: String { name }
    }

    static func submit(_ fault: FaultRule.Fault, times: Int = 1) -> FaultRule {
        FaultRule(endpoint: .submit, fault: fault, remaining: times)
    }

    static func poll(_ fault: FaultRule.Fault, times: Int = 1) -> FaultRule {
        FaultRule(endpoint: .poll, fault: fault, remaining: times)
    }

    static let outcomeUnknown = "submission_outcome_unknown"

    static let cases: [Case] = [
        // Submissions that certainly did not reach the API: retried with backoff, one generation.
        Case(name: "submit 429 twice without Retry-After", faults: [submit(.status(429), times: 2)], posts: 3),
        Case(
            name: "submit 429 with Retry-After 1",
            faults: [submit(.status(429, retryAfterSeconds: 1))],
            posts: 2,
            retryAfter: (.submit, 1)
        ),
        Case(name: "submit 502 twice", faults: [submit(.status(502), times: 2)], posts: 3),
        Case(name: "submit 503 twice", faults: [submit(.status(503), times: 2)], posts: 3),
        Case(name: "submit 408", faults: [submit(.status(408))], posts: 2),
        // Submissions whose outcome is unknown: never re-sent under the default policy.
        Case(name: "submit 500 after creating the generation", faults: [submit(.acceptThenFail(500))], failure: outcomeUnknown),
        Case(name: "submit 504 after creating the generation", faults: [submit(.acceptThenFail(504))], failure: outcomeUnknown),
        Case(name: "submit 500", faults: [submit(.status(500))], failure: outcomeUnknown, generations: 0),
        Case(name: "submit reset mid-response", faults: [submit(.dropConnection)], failure: outcomeUnknown, generations: 0),
        Case(
            name: "submit slower than the request timeout",
            faults: [submit(.delay(.milliseconds(1500)))],
            requestTimeoutSeconds: 1,
            failure: outcomeUnknown
        ),
        Case(name: "submit 200 with malformed JSON", faults: [submit(.malformedJSON)], failure: outcomeUnknown, generations: 0),
        // ... unless `resubmit` accepts the risk of paying twice.
        Case(
            name: "submit 500 after creating the generation, resubmit policy",
            faults: [submit(.acceptThenFail(500))],
            ambiguousSubmission: .resubmit,
            posts: 2,
            generations: 2
        ),
        Case(
            name: "submit reset mid-response, resubmit policy",
            faults: [submit(.dropConnection)],
            ambiguousSubmission: .resubmit,
            posts: 2
        ),
        // The API rejected the request: failed at once, not retried.
        Case(name: "submit 400", faults: [submit(.status(400))], failure: "api_rejected", generations: 0),
        Case(name: "submit 422", faults: [submit(.status(422))], failure: "api_rejected", generations: 0),
        // Polls that fail are retried; the job is not failed for them.
        Case(name: "poll 429 twice without Retry-After", faults: [poll(.status(429), times: 2)]),
        Case(name: "poll 429 with Retry-After 1", faults: [poll(.status(429, retryAfterSeconds: 1))], retryAfter: (.poll, 1)),
        Case(name: "poll 500 twice", faults: [poll(.status(500), times: 2)]),
        Case(name: "poll 502 twice", faults: [poll(.status(502), times: 2)]),
        Case(name: "poll 503 twice", faults: [poll(.status(503), times: 2)]),
        Case(name: "poll 504 twice", faults: [poll(.status(504), times: 2)]),
        Case(name: "poll reset mid-response twice", faults: [poll(.dropConnection, times: 2)]),
        Case(name: "poll slower than the request timeout", faults: [poll(.delay(.milliseconds(1500)))], requestTimeoutSeconds: 1),
        Case(name: "poll 200 with malformed JSON twice", faults: [poll(.malformedJSON, times: 2)]),
        Case(name: "poll reports an unknown status three times", faults: [poll(.reportStatus("processing"), times: 3)]),
        Case(name: "poll 404 twice", faults: [poll(.status(404), times: 2)]),
        // Polls that end the job.
        Case(name: "poll 404 three times in a row", faults: [poll(.status(404), times: 3)], failure: "generation_not_found"),
        Case(name: "poll 400", faults: [poll(.status(400))], failure: "api_rejected"),
        Case(name: "poll reports status error", faults: [poll(.reportStatus("error"))], failure: "generation_failed"),
        Case(name: "generation ends in error", tags: "[sim:error]", failure: "generation_failed"),
        Case(name: "generation never finishes", tags: "[sim:never]", pollDeadlineSeconds: 1, failure: "timeout"),
    ]

    @Test(arguments: cases)
    func anUpstreamFaultEndsTheJobAsDocumented(_ fault: Case) async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            simulator.api.setFaults(fault.faults)
            try await simulator.withRunningServer { port in
                let rig = FaultRig(root: root, simulator: simulator, port: port) { settings in
                    settings.requestTimeoutSeconds = fault.requestTimeoutSeconds
                    settings.pollDeadlineSeconds = fault.pollDeadlineSeconds
                    settings.ambiguousSubmissionPolicy = fault.ambiguousSubmission
                }
                let prompt = "upstream: \(fault.name) \(fault.tags)"
                let request = FaultRig.request(prompt: prompt, jobID: "job", callbacks: [rig.hook("/webhooks/upstream")])
                let events = StampedRecording(simulator.api.subscribe())
                let webhook = try await rig.run { daemon in
                    try FaultRig.drop(request, jobID: "job", into: daemon)
                    return try await withTimeout(.seconds(30), waitingFor: "the terminal webhook") {
                        try #require(try await simulator.receiver.subscribe().collect(1).first)
                    }
                }
                let timeline = await events.finish()

                // The webhook.
                let document = try #require(webhook.json)
                #expect(webhook.signatureValid == true)
                if let failure = fault.failure {
                    #expect(document["type"]?.stringValue == "video.generation.failed")
                    #expect(document["data"]?["error"]?["code"]?.stringValue == failure)
                    #expect(document["data"]?["status"]?.stringValue == "failed")
                } else {
                    #expect(document["type"]?.stringValue == "video.generation.completed")
                    #expect(document["data"]?["error"] == .null)
                    #expect(document["data"]?["video"]?["url"]?.stringValue?.contains(".mp4") == true)
                    // Stored before it was announced, whatever the API's faults were.
                    #expect(document["data"]?["video"]?["file"]?.stringValue?.hasSuffix(".mp4") == true)
                }
                #expect(document["data"]?["submit_attempts"]?.numberValue?.int64Value == Int64(fault.posts))

                // What reached the API: nothing sent twice that the policy does not allow.
                #expect(simulator.api.statistics.submissions == fault.posts, "POSTs that reached the simulator")
                #expect(
                    simulator.api.generations.filter { $0.prompt == prompt }.count == fault.generations,
                    "generations the simulator created"
                )

                // The outcome file, with the delivery recorded.
                let outcome = try rig.outcome("job")
                #expect(outcome.directory == (fault.failure == nil ? "done" : "failed"))
                #expect(outcome.errorCode == fault.failure)
                #expect(outcome.deliveries.first?["state"]?.stringValue == "delivered")

                if let retryAfter = fault.retryAfter {
                    let gap = try #require(Self.gapAfterFirstError(on: retryAfter.endpoint, in: timeline))
                    #expect(
                        gap >= retryAfter.seconds - FaultRig.observationSlack,
                        "Retry-After \(retryAfter.seconds) s, waited \(gap) s"
                    )
                }
            }
        }
    }

    /// Seconds from the first error answer on `endpoint` to the next request the simulator saw there.
    static func gapAfterFirstError(
        on endpoint: FaultRule.Endpoint,
        in timeline: [StampedRecording<SimulatedAPI.Event>.Stamped]
    ) -> Double? {
        func isOn(_ event: SimulatedAPI.Event) -> Bool {
            switch event {
            case .accepted: endpoint == .submit
            case .polled: endpoint == .poll
            case .answered(let answered, _): answered == endpoint
            }
        }
        guard
            let first = timeline.firstIndex(where: {
                if case .answered(endpoint, _) = $0.element { return true }
                return false
            }),
            let next = timeline[(first + 1)...].first(where: { isOn($0.element) })
        else { return nil }
        return (next.at - timeline[first].at).secondsDouble
    }

    // MARK: - A refused key

    /// 401 (key refused) and 403 (out of credits) on submission pause every submission; nothing
    /// is failed, and every job completes once the API accepts the key.
    @Test(arguments: [401, 403])
    func aRefusedKeyPausesSubmissionsAndLosesNoJob(_ status: Int) async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            Self.refuse(simulator, status)
            try await simulator.withRunningServer { port in
                let rig = FaultRig(root: root, simulator: simulator, port: port)
                let count = 3
                let webhooks = try await rig.run { daemon in
                    for index in 0..<count {
                        let request = FaultRig.request(
                            prompt: "held \(index)",
                            jobID: "held-\(index)",
                            callbacks: [rig.hook("/webhooks/held")]
                        )
                        try FaultRig.drop(request, jobID: "held-\(index)", into: daemon)
                    }
                    // Every job is sent again only after a pause, so one more refusal than there
                    // are jobs means submissions have paused (and probed) at least once.
                    _ = try await withTimeout(.seconds(30), waitingFor: "\(count + 1) refusals") {
                        try await simulator.api.subscribe().collect(count + 1) {
                            $0 == .answered(endpoint: .submit, statusCode: status)
                        }
                    }
                    let paused = daemon.pipeline.status
                    #expect(paused.submissionsPaused?.contains("HTTP \(status)") == true, "\(paused)")
                    #expect(paused.failed == 0)
                    #expect(paused.queued + paused.submitting == count, "\(paused)")
                    #expect(simulator.api.generations.isEmpty)

                    Self.accept(simulator, status)
                    return try await withTimeout(.seconds(30), waitingFor: "\(count) webhooks") {
                        try await simulator.receiver.subscribe().collect(count)
                    }
                }
                let types = webhooks.compactMap { $0.json?["type"]?.stringValue }
                #expect(types == Array(repeating: "video.generation.completed", count: count))
                #expect(simulator.api.generations.count == count, "each job submitted once")
                for index in 0..<count {
                    #expect(try rig.outcome("held-\(index)").directory == "done")
                }
            }
        }
    }

    /// 401 and 403 on polls pause polling; the generation is not given up, and the job completes
    /// once the API accepts the key again.
    @Test(arguments: [401, 403])
    func aRefusedKeyPausesPollingAndFailsNoJob(_ status: Int) async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            try await simulator.withRunningServer { port in
                let rig = FaultRig(root: root, simulator: simulator, port: port)
                let webhook = try await rig.run { daemon in
                    // Half a second of generation: the key is refused before any poll could see
                    // the result.
                    let request = FaultRig.request(
                        prompt: "polled [sim:seconds=0.5]",
                        jobID: "polled",
                        callbacks: [rig.hook("/webhooks/polled")]
                    )
                    let api = simulator.api.subscribe()
                    try FaultRig.drop(request, jobID: "polled", into: daemon)
                    _ = try await withTimeout(.seconds(30), waitingFor: "the submission") {
                        try await api.collect(1) {
                            if case .accepted = $0 { return true }
                            return false
                        }
                    }
                    Self.refuse(simulator, status)
                    _ = try await withTimeout(.seconds(30), waitingFor: "two refused polls") {
                        try await simulator.api.subscribe().collect(2) {
                            $0 == .answered(endpoint: .poll, statusCode: status)
                        }
                    }
                    let paused = daemon.pipeline.status
                    #expect(paused.failed == 0)
                    #expect(paused.generating == 1, "\(paused)")
                    #expect(
                        rig.log.entries.contains { $0["event"] == "polling.paused" && $0["reason"]?.contains("HTTP \(status)") == true }
                    )
                    Self.accept(simulator, status)
                    return try await withTimeout(.seconds(30), waitingFor: "the webhook") {
                        try #require(try await simulator.receiver.subscribe().collect(1).first)
                    }
                }
                #expect(webhook.json?["type"]?.stringValue == "video.generation.completed")
                #expect(simulator.api.statistics.submissions == 1)
                #expect(try rig.outcome("polled").directory == "done")
            }
        }
    }

    /// Makes the simulator refuse the daemon's key with `status`.
    static func refuse(_ simulator: Simulator, _ status: Int) {
        simulator.api.updateConfiguration { configuration in
            if status == 403 {
                configuration.exhaustedKeys = [FaultRig.apiKey]
            } else {
                configuration.apiKey = "a-rotated-key"
            }
        }
    }

    /// Makes the simulator accept the daemon's key again.
    static func accept(_ simulator: Simulator, _ status: Int) {
        simulator.api.updateConfiguration { configuration in
            configuration.exhaustedKeys = []
            configuration.apiKey = FaultRig.apiKey
        }
    }

    // MARK: - Connection refused

    /// A POST that could not connect certainly did not reach the API: the job stays queued and is
    /// retried, even across a restart, and is submitted once when the API is back.
    @Test func aRefusedConnectionKeepsTheJobQueuedUntilTheAPIIsReachable() async throws {
        try await withTemporaryDirectory { root in
            let simulator = FaultRig.simulator()
            let closed = try await LoopbackServer.closedPort()
            try await simulator.withRunningServer { port in
                let unreachable = FaultRig(root: root, simulator: simulator, port: port) { settings in
                    settings.apiBaseURL = "http://127.0.0.1:\(closed)"
                    // AsyncHTTPClient retries a refused connect until the request's deadline.
                    settings.requestTimeoutSeconds = 0.5
                }
                let request = FaultRig.request(prompt: "refused", jobID: "refused", callbacks: [unreachable.hook("/webhooks/refused")])
                try await unreachable.run { daemon in
                    try FaultRig.drop(request, jobID: "refused", into: daemon)
                    let retries = try await withTimeout(.seconds(30), waitingFor: "two retried submissions") {
                        try await unreachable.log.subscribe().collect(2) { $0.message == "Submission will be retried" }
                    }
                    for retry in retries {
                        #expect(retry["job.id"] == "refused")
                        #expect(retry["reason"] == "not sent: connection refused")
                    }
                    let status = daemon.pipeline.status
                    #expect(status.failed == 0)
                    #expect(status.queued + status.submitting == 1, "\(status)")
                }
                #expect(simulator.receiver.received.isEmpty)
                #expect(!FileManager.default.fileExists(atPath: root + "/spool/failed/refused.json"))

                // The same state, now with the API reachable.
                let reachable = FaultRig(root: root, simulator: simulator, port: port)
                let webhook = try await reachable.run { _ in
                    try await withTimeout(.seconds(30), waitingFor: "the webhook") {
                        try #require(try await simulator.receiver.subscribe().collect(1).first)
                    }
                }
                #expect(webhook.json?["type"]?.stringValue == "video.generation.completed")
                #expect(simulator.api.statistics.submissions == 1)
                #expect(try reachable.outcome("refused").directory == "done")
            }
        }
    }
}
