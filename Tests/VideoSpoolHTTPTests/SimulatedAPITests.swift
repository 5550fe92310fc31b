import Testing
import VideoSpoolCore
import VideoSpoolSimulator

/// The simulated API's rules, called directly (no HTTP).
struct SimulatedAPITests {
    private static let bearer = "Bearer \(simulatorKey)"

    private func simulatedAPI(
        queuedTime: Duration = .zero,
        generationTime: Duration = .zero,
        errorRate: Double = 0,
        exhaustedKeys: Set<String> = [],
        faults: [FaultRule] = []
    ) -> SimulatedAPI {
        SimulatedAPI(
            configuration: SimulatorConfiguration(
                apiKey: simulatorKey,
                exhaustedKeys: exhaustedKeys,
                queuedTime: queuedTime,
                generationTime: .fixed(generationTime),
                errorRate: errorRate,
                faults: faults
            )
        )
    }

    private func body(prompt: String = "x", extra: String = "") -> [UInt8] {
        Array(#"{"model":"\#(seedanceModel)","prompt":"\#(prompt)","duration":5\#(extra)}"#.utf8)
    }

    /// Submits and returns the new generation's id.
    private func submitted(_ api: SimulatedAPI, prompt: String = "x", sourceLocation: SourceLocation = #_sourceLocation)
        throws -> String
    {
        let reply = try #require(
            JSONReply(api.submit(authorization: Self.bearer, body: body(prompt: prompt))),
            sourceLocation: sourceLocation
        )
        #expect(reply.status == 200, sourceLocation: sourceLocation)
        return try #require(reply.body["id"]?.stringValue, sourceLocation: sourceLocation)
    }

    private func polledStatus(_ api: SimulatedAPI, _ id: String) throws -> GenerationStatusResponse {
        let reply = try #require(JSONReply(api.poll(authorization: Self.bearer, generationID: id)))
        #expect(reply.status == 200)
        return try #require(GenerationStatusResponse(body: JSONWriter().bytes(reply.body)))
    }

    // MARK: - Authentication

    @Test(
        arguments: [
            nil, "", "sim-test-key", "Basic c2ltLXRlc3Qta2V5", "Bearer", "Bearer wrong-key", "bearer sim-test-key",
        ] as [String?]
    )
    func requestsWithoutTheBearerKeyAreAnswered401(authorization: String?) throws {
        let api = simulatedAPI()
        let submit = try #require(JSONReply(api.submit(authorization: authorization, body: body())))
        let poll = try #require(JSONReply(api.poll(authorization: authorization, generationID: "abc")))
        #expect(submit.status == 401)
        #expect(poll.status == 401)
        #expect(submit.body["message"]?.stringValue?.contains("valid API key") == true)
        #expect(api.statistics.unauthorized == 2)
        #expect(api.statistics.acceptedSubmissions == 0)
        #expect(api.generations.isEmpty)
    }

    @Test func anExhaustedKeyIsAnswered403AndNotCountedAsUnauthorized() throws {
        let api = simulatedAPI(exhaustedKeys: ["sim-exhausted-key"])
        let reply = try #require(JSONReply(api.submit(authorization: "Bearer sim-exhausted-key", body: body())))
        #expect(reply.status == 403)
        #expect(reply.body["statusCode"]?.stringValue == "403")
        #expect(api.statistics.unauthorized == 0)
        #expect(api.statistics.submissions == 1)
        #expect(api.generations.isEmpty)
    }

    // MARK: - Models

    @Test(arguments: ModelCatalog.builtIn.models.map(\.schema.model))
    func everyBuiltInModelIsAccepted(model: String) throws {
        let api = simulatedAPI()
        let text = #"{"model":"\#(model)","prompt":"x","duration":8,"resolution":"720p"}"#
        let reply = try #require(JSONReply(api.submit(authorization: Self.bearer, body: Array(text.utf8))))
        #expect(reply.status == 200, "\(reply.body)")
        #expect(api.generations.first?.body["model"] == .string(model))
    }

    @Test func generationTimesAreConfigurablePerModel() throws {
        let api = SimulatedAPI(
            configuration: SimulatorConfiguration(
                apiKey: simulatorKey,
                queuedTime: .zero,
                generationTime: .fixed(.seconds(3600)),
                generationTimes: ["bytedance/seedance-2-0-fast": .fixed(.zero)]
            )
        )
        func submit(_ model: String) throws -> String {
            let text = #"{"model":"\#(model)","prompt":"x"}"#
            let reply = try #require(JSONReply(api.submit(authorization: Self.bearer, body: Array(text.utf8))))
            return try #require(reply.body["id"]?.stringValue, "\(reply.body)")
        }
        let fast = try submit("bytedance/seedance-2-0-fast")
        let mini = try submit(seedanceModel)
        #expect(try polledStatus(api, fast).status == "completed")
        #expect(try polledStatus(api, mini).status == "generating")
        #expect(api.generations.map(\.readyAfter) == [.zero, .seconds(3600)])
    }

    @Test func generationSecondsAreReadForAllModelsOrOne() throws {
        var configuration = SimulatorConfiguration()
        try configuration.setGenerationSeconds("seedance")
        try configuration.setGenerationSeconds("bytedance/seedance-2-0-fast=90")
        try configuration.setGenerationSeconds("acme/x=1.5")
        #expect(configuration.generationTime == .seedance(scale: 1))
        #expect(configuration.generationTime(for: "bytedance/seedance-2-0-fast") == .fixed(.seconds(90)))
        #expect(configuration.generationTime(for: "acme/x") == .fixed(.seconds(double: 1.5)))
        #expect(configuration.generationTime(for: "bytedance/seedance-2-0") == .seedance(scale: 1))
        for bad in ["soon", "=5", "acme/x=", "acme/x=-1", "nan"] {
            #expect(throws: GenerationTimeError.self, "\(bad)") { try configuration.setGenerationSeconds(bad) }
        }
    }

    @Test func modelsBeyondTheBuiltInOnesAreAcceptedOnlyWhenConfigured() throws {
        let text = Array(#"{"model":"acme/video-1","prompt":"x","anything":[1]}"#.utf8)
        let strict = simulatedAPI()
        #expect(try #require(JSONReply(strict.submit(authorization: Self.bearer, body: text))).status == 400)
        let open = SimulatedAPI(configuration: SimulatorConfiguration(apiKey: simulatorKey, acceptsUnlistedModels: true))
        #expect(try #require(JSONReply(open.submit(authorization: Self.bearer, body: text))).status == 200)
    }

    // MARK: - Validation

    @Test func aValidSubmissionIsQueuedAndRecorded() throws {
        let api = simulatedAPI()
        let reply = try #require(JSONReply(api.submit(authorization: Self.bearer, body: body(prompt: "a cat"))))
        #expect(reply.status == 200)
        #expect(reply.body["status"]?.stringValue == "queued")
        let id = try #require(reply.body["id"]?.stringValue)
        let generation = try #require(api.generations.first)
        #expect(generation.id == id)
        #expect(generation.prompt == "a cat")
        #expect(generation.body["duration"]?.numberValue?.int64Value == 5)
        #expect(api.statistics.submissions == 1)
        #expect(api.statistics.acceptedSubmissions == 1)
    }

    @Test(arguments: RequestValidator.daemonKeys)
    func daemonKeysAreRejectedAsUnrecognized(key: String) throws {
        let values = [
            "callback_url": #""https://example.com/hook""#,
            "callback_urls": #"["https://example.com/hook"]"#,
            "metadata": #"{"order":1}"#,
            "job_id": #""job-1""#,
        ]
        let value = try #require(values[key], "a value for \(key)")
        let api = simulatedAPI()
        let reply = try #require(
            JSONReply(api.submit(authorization: Self.bearer, body: body(extra: #","\#(key)":\#(value)"#)))
        )
        #expect(reply.status == 400)
        #expect(reply.body["message"]?.stringValue == "Body validation error! Unrecognized key: '\(key)'")
        #expect(api.statistics.rejectedBodies == 1)
        #expect(api.statistics.acceptedSubmissions == 0)
    }

    @Test func aDurationSentAsAStringIsRejected() throws {
        let api = simulatedAPI()
        let body = Array(#"{"model":"\#(seedanceModel)","prompt":"x","duration":"5"}"#.utf8)
        let reply = try #require(JSONReply(api.submit(authorization: Self.bearer, body: body)))
        #expect(reply.status == 400)
        #expect(
            reply.body["message"]?.stringValue
                == "Body validation error! Expected number, received string at 'duration'"
        )
        #expect(api.statistics.rejectedBodies == 1)
    }

    @Test(
        arguments: [
            "not json",
            "[]",
            #"{"prompt":"x"}"#,
            #"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"x","duration":99}"#,
            #"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"x","colour":"red"}"#,
        ]
    )
    func bodiesTheValidatorRejectsAreAnswered400(text: String) throws {
        let api = simulatedAPI()
        let reply = try #require(JSONReply(api.submit(authorization: Self.bearer, body: Array(text.utf8))))
        #expect(reply.status == 400)
        #expect(reply.body["message"]?.stringValue?.hasPrefix("Body validation error!") == true)
        #expect(api.generations.isEmpty)
    }

    @Test(arguments: [nil, ""] as [String?])
    func aPollWithoutAGenerationIDIsAnswered400(id: String?) throws {
        let reply = try #require(JSONReply(simulatedAPI().poll(authorization: Self.bearer, generationID: id)))
        #expect(reply.status == 400)
    }

    @Test func anUnknownGenerationIsAnswered404() throws {
        let reply = try #require(JSONReply(simulatedAPI().poll(authorization: Self.bearer, generationID: "nope")))
        #expect(reply.status == 404)
        #expect(reply.body["message"]?.stringValue == "Generation not found")
    }

    // MARK: - Timeline

    @Test func aGenerationIsQueuedForItsQueuedTime() throws {
        let api = simulatedAPI(queuedTime: .seconds(3600))
        let id = try submitted(api)
        let status = try polledStatus(api, id)
        #expect(status.status == "queued")
        #expect(status.videoURL == nil)
        #expect(status.usage == nil)
    }

    @Test func aGenerationIsGeneratingUntilItIsReady() throws {
        let api = simulatedAPI(queuedTime: .zero, generationTime: .seconds(3600))
        let id = try submitted(api)
        #expect(try polledStatus(api, id).status == "generating")
    }

    @Test func aReadyGenerationIsCompletedWithItsVideoAndUsage() throws {
        let api = simulatedAPI()
        let id = try submitted(api)
        let status = try polledStatus(api, id)
        #expect(status.status == "completed")
        #expect(status.videoURL == "https://cdn.simulator.invalid/generations/\(id).mp4")
        #expect(status.usage?.creditsUsed?.int64Value == 120_000)
        #expect(status.usage?.usdSpent?.doubleValue == 0.06)
    }

    @Test(.timeLimit(.minutes(1)))
    func pollingSeesQueuedThenGeneratingThenCompletedInOrder() async throws {
        // Each phase checked where it certainly is, so a busy machine cannot skip one between polls.
        let queued = simulatedAPI(queuedTime: .seconds(3600), generationTime: .seconds(3600))
        #expect(try polledStatus(queued, try submitted(queued)).status == "queued")
        let generating = simulatedAPI(queuedTime: .zero, generationTime: .seconds(3600))
        #expect(try polledStatus(generating, try submitted(generating)).status == "generating")
        let done = simulatedAPI(queuedTime: .zero, generationTime: .zero)
        #expect(try polledStatus(done, try submitted(done)).status == "completed")
        // And in order, over time: statuses never go backwards.
        let api = simulatedAPI(queuedTime: .milliseconds(50), generationTime: .milliseconds(50))
        let id = try submitted(api)
        var seen: [String] = []
        while seen.last != "completed" {
            let status = try polledStatus(api, id).status
            if seen.last != status { seen.append(status) }
            try await Task.sleep(for: .milliseconds(5))  // a poll cadence, not a wait for an effect
        }
        let order = ["queued", "generating", "completed"]
        #expect(seen.map { order.firstIndex(of: $0) ?? -1 } == seen.map { order.firstIndex(of: $0) ?? -1 }.sorted())
        #expect(seen.first == "queued")
    }

    @Test func anErrorRateOfOneEndsEveryGenerationInError() throws {
        let api = simulatedAPI(errorRate: 1)
        for _ in 0..<5 {
            let id = try submitted(api)
            let status = try polledStatus(api, id)
            #expect(status.status == "error")
            #expect(status.progress == .failed)
            #expect(status.errorName == "GenerationError")
            #expect(status.errorMessage == "The model could not generate this video.")
            #expect(status.videoURL == nil)
        }
        #expect(api.generations.allSatisfy { $0.ending == .error })
    }

    @Test func theErrorTagEndsAGenerationInError() throws {
        let api = simulatedAPI()
        let failing = try submitted(api, prompt: "a cat [sim:error]")
        let fine = try submitted(api, prompt: "a cat")
        #expect(try polledStatus(api, failing).status == "error")
        #expect(try polledStatus(api, fine).status == "completed")
    }

    @Test func theNeverTagKeepsAGenerationGenerating() throws {
        let api = simulatedAPI()
        let id = try submitted(api, prompt: "[sim:never] a cat")
        #expect(try polledStatus(api, id).status == "generating")
        #expect(api.generations.first?.ending == .never)
    }

    @Test func theSecondsTagSetsTheGenerationTime() throws {
        let api = simulatedAPI(queuedTime: .milliseconds(10), generationTime: .seconds(3600))
        let quick = try submitted(api, prompt: "[sim:seconds=0] quick")
        let slow = try submitted(api, prompt: "[sim:seconds=2.5] slow")
        let untagged = try submitted(api, prompt: "untagged")
        let readyAfter = Dictionary(uniqueKeysWithValues: api.generations.map { ($0.id, $0.readyAfter) })
        #expect(readyAfter[quick] == .milliseconds(10))
        #expect(readyAfter[slow] == .milliseconds(2510))
        #expect(readyAfter[untagged] == .seconds(3600) + .milliseconds(10))
    }

    // MARK: - Faults

    @Test func faultRulesAreConsumedInOrder() throws {
        let api = simulatedAPI(faults: [
            FaultRule(endpoint: .submit, fault: .status(429, retryAfterSeconds: 3), remaining: 2),
            FaultRule(endpoint: .submit, fault: .status(503), remaining: 1),
        ])
        var answers: [(Int, Int?)] = []
        for _ in 0..<4 {
            let reply = try #require(JSONReply(api.submit(authorization: Self.bearer, body: body())))
            answers.append((reply.status, reply.retryAfterSeconds))
        }
        #expect(answers.map(\.0) == [429, 429, 503, 200])
        #expect(answers.map(\.1) == [3, 3, nil, nil])
        #expect(api.statistics.faultsInjected == 3)
        #expect(api.statistics.submissions == 4)
        #expect(api.statistics.acceptedSubmissions == 1)
    }

    @Test func aRuleWithoutACountAppliesToEveryMatchingRequest() throws {
        let api = simulatedAPI(faults: [FaultRule(endpoint: .submit, fault: .status(500))])
        for _ in 0..<5 {
            #expect(try #require(JSONReply(api.submit(authorization: Self.bearer, body: body()))).status == 500)
        }
        #expect(api.statistics.faultsInjected == 5)
    }

    @Test func rulesOnlyApplyToTheirEndpoint() throws {
        let api = simulatedAPI(faults: [FaultRule(endpoint: .poll, fault: .status(502), remaining: 1)])
        let id = try submitted(api)
        #expect(try #require(JSONReply(api.poll(authorization: Self.bearer, generationID: id))).status == 502)
        #expect(try #require(JSONReply(api.poll(authorization: Self.bearer, generationID: id))).status == 200)
        #expect(api.statistics.faultsInjected == 1)
    }

    @Test func anyRulesApplyToBothEndpoints() throws {
        let api = simulatedAPI()
        let id = try submitted(api)
        api.setFaults([FaultRule(endpoint: .any, fault: .status(503), remaining: 2)])
        #expect(try #require(JSONReply(api.submit(authorization: Self.bearer, body: body()))).status == 503)
        #expect(try #require(JSONReply(api.poll(authorization: Self.bearer, generationID: id))).status == 503)
        #expect(try #require(JSONReply(api.poll(authorization: Self.bearer, generationID: id))).status == 200)
    }

    // MARK: - Standing limits

    @Test func aConcurrencyLimitRefusesRequestsBeyondItUntilOneIsAnswered() throws {
        let api = simulatedAPI(faults: [
            FaultRule(endpoint: .any, fault: .concurrencyLimit(2, retryAfterSeconds: 1)),
            FaultRule(endpoint: .submit, fault: .status(503), remaining: 1),
        ])
        #expect(api.enter(.submit) == nil)
        #expect(api.enter(.poll) == nil)
        let refusal = try #require(api.enter(.submit).flatMap(JSONReply.init))
        #expect(refusal.status == 429 && refusal.retryAfterSeconds == 1)
        api.leave()
        #expect(api.enter(.poll) == nil)
        #expect(api.statistics.rateLimited == 1)
        #expect(api.statistics.peakConcurrency == 2)
        // A limit is not used up by the requests it admits, and is no per-request fault.
        #expect(try #require(JSONReply(api.submit(authorization: Self.bearer, body: body()))).status == 503)
    }

    @Test func aRateLimitRefusesRequestsBeyondItsCountInOneSecond() throws {
        let api = simulatedAPI(faults: [FaultRule(endpoint: .poll, fault: .rateLimit(perSecond: 3))])
        var statuses: [Int] = []
        for _ in 0..<5 {
            if let refusal = api.enter(.poll) {
                statuses.append(try #require(JSONReply(refusal)).status)
            } else {
                statuses.append(200)
                api.leave()
            }
        }
        #expect(statuses == [200, 200, 200, 429, 429])
        #expect(api.enter(.submit) == nil, "the rule is for polls only")
    }

    @Test func reportStatusOverridesAPollsStatus() throws {
        let api = simulatedAPI()
        let id = try submitted(api)
        api.setFaults([FaultRule(endpoint: .poll, fault: .reportStatus("processing"), remaining: 1)])
        #expect(try polledStatus(api, id).status == "processing")
        #expect(try polledStatus(api, id).status == "completed")
    }

    @Test func reportVideoURLCompletesAPollWithThatURL() throws {
        let api = simulatedAPI()
        let id = try submitted(api)
        api.setFaults([FaultRule(endpoint: .poll, fault: .reportVideoURL("file:///etc/passwd"), remaining: 1)])
        let reported = try polledStatus(api, id)
        #expect(reported.status == "completed")
        #expect(reported.videoURL == "file:///etc/passwd")
        #expect(try polledStatus(api, id).videoURL != "file:///etc/passwd", "the rule is used up")
    }

    @Test func acceptThenFailCreatesTheGenerationButAnswersTheError() throws {
        let api = simulatedAPI(faults: [FaultRule(endpoint: .submit, fault: .acceptThenFail(500), remaining: 1)])
        let reply = try #require(JSONReply(api.submit(authorization: Self.bearer, body: body())))
        #expect(reply.status == 500)
        #expect(api.statistics.acceptedSubmissions == 1)
        #expect(api.generations.count == 1)
    }

    @Test func malformedJSONIsA200ThatDoesNotParse() {
        let api = simulatedAPI(faults: [FaultRule(endpoint: .submit, fault: .malformedJSON)])
        guard case .raw(let status, let bytes) = api.submit(authorization: Self.bearer, body: body()) else {
            Issue.record("expected a raw reply")
            return
        }
        #expect(status == 200)
        #expect((try? JSONParser().parse(bytes)) == nil)
    }

    @Test func dropConnectionIsADrop() {
        let api = simulatedAPI(faults: [FaultRule(endpoint: .submit, fault: .dropConnection)])
        guard case .drop = api.submit(authorization: Self.bearer, body: body()) else {
            Issue.record("expected a drop")
            return
        }
    }

    @Test func aDelayedSubmissionIsAcceptedAndAnsweredLater() throws {
        let api = simulatedAPI(faults: [FaultRule(endpoint: .submit, fault: .delay(.seconds(40)), remaining: 1)])
        guard case .delayed(let delay, let then) = api.submit(authorization: Self.bearer, body: body()) else {
            Issue.record("expected a delayed reply")
            return
        }
        #expect(delay == .seconds(40))
        #expect(try #require(JSONReply(then)).status == 200)
        #expect(api.statistics.acceptedSubmissions == 1)
    }

    @Test func authenticationComesBeforeFaults() throws {
        let api = simulatedAPI(faults: [FaultRule(endpoint: .submit, fault: .status(503))])
        #expect(try #require(JSONReply(api.submit(authorization: "Bearer wrong", body: body()))).status == 401)
    }

    // MARK: - Statistics and events

    @Test func statisticsCountEveryKindOfRequest() throws {
        let api = simulatedAPI()
        let id = try submitted(api)
        _ = api.submit(authorization: nil, body: body())
        _ = api.submit(authorization: Self.bearer, body: Array("{}".utf8))
        _ = api.poll(authorization: Self.bearer, generationID: id)
        _ = api.poll(authorization: Self.bearer, generationID: "unknown")
        api.setFaults([FaultRule(endpoint: .poll, fault: .status(500), remaining: 1)])
        _ = api.poll(authorization: Self.bearer, generationID: id)
        let statistics = api.statistics
        #expect(statistics.submissions == 3)
        #expect(statistics.acceptedSubmissions == 1)
        #expect(statistics.polls == 3)
        #expect(statistics.rejectedBodies == 1)
        #expect(statistics.unauthorized == 1)
        #expect(statistics.faultsInjected == 1)
    }

    @Test(.timeLimit(.minutes(1)))
    func subscribersGetEarlierEventsThenNewOnes() async throws {
        let api = simulatedAPI()
        let first = try submitted(api, prompt: "first")
        _ = api.poll(authorization: Self.bearer, generationID: first)
        _ = api.submit(authorization: nil, body: body())
        let events = api.subscribe()
        let second = try submitted(api, prompt: "second")
        var iterator = events.makeAsyncIterator()
        var received: [SimulatedAPI.Event] = []
        for _ in 0..<4 {
            received.append(try #require(await iterator.next()))
        }
        #expect(
            received == [
                .accepted(generationID: first, prompt: "first"),
                .polled(generationID: first),
                .answered(endpoint: .submit, statusCode: 401),
                .accepted(generationID: second, prompt: "second"),
            ]
        )
    }
}

/// A `.json` reply taken apart; `nil` for other replies.
struct JSONReply {
    let status: Int
    let body: JSONValue
    let retryAfterSeconds: Int?

    init?(_ reply: SimulatedAPI.Reply) {
        guard case .json(let status, let body, let retryAfter) = reply else { return nil }
        self.status = status
        self.body = body
        self.retryAfterSeconds = retryAfter
    }
}
