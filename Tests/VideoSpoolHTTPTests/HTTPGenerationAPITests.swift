import AsyncHTTPClient
import HTTPTypes
import Hummingbird
import NIOCore
import Testing
import VideoSpoolCore
import VideoSpoolHTTP
import VideoSpoolSimulator
import VideoSpoolTesting

@Suite(.timeLimit(.minutes(1)))
struct HTTPGenerationAPITests {
    private func api(
        _ client: HTTPClient,
        port: Int,
        key: String = simulatorKey,
        requestTimeout: Duration = .seconds(20),
        maximumResponseBytes: Int = 1024 * 1024
    ) -> HTTPGenerationAPI {
        HTTPGenerationAPI(
            client: client,
            configuration: HTTPGenerationAPI.Configuration(
                baseURL: "http://127.0.0.1:\(port)",
                apiKey: key,
                requestTimeout: requestTimeout,
                maximumResponseBytes: maximumResponseBytes
            ),
            logger: quietLogger
        )
    }

    // MARK: - The happy path

    @Test func aValidSubmissionIsQueuedAndPollsThroughToCompletedWithTheVideoAndUsage() async throws {
        let simulator = quickSimulator()
        try await withHTTPClient { client in
            try await simulator.withRunningServer { port in
                let api = api(client, port: port)
                let submitted = try #require(await api.submit(body: validSeedanceBody, jobID: testJobID).response)
                #expect(submitted.statusCode == 200)
                let accepted = try #require(submitted.status)
                #expect(accepted.status == "queued")
                #expect(!accepted.id.isEmpty)
                #expect(simulator.api.statistics.acceptedSubmissions == 1)
                #expect(simulator.api.statistics.unauthorized == 0)
                #expect(simulator.api.generations.map(\.id) == [accepted.id])

                let first = try #require(await api.status(of: accepted.id, jobID: testJobID).response?.status)
                #expect(first.id == accepted.id)
                #expect(["queued", "generating", "completed"].contains(first.status))

                // Poll until the simulator reports the end; every pass awaits a real response.
                var seen = [first.status]
                var latest = first
                let deadline = ContinuousClock.now + .seconds(30)
                while latest.progress == .running, ContinuousClock.now < deadline {
                    let polled = try #require(await api.status(of: accepted.id, jobID: testJobID).response)
                    #expect(polled.statusCode == 200)
                    latest = try #require(polled.status)
                    if seen.last != latest.status { seen.append(latest.status) }
                }
                #expect(latest.status == "completed")
                #expect(seen.allSatisfy { ["queued", "generating", "completed"].contains($0) })
                #expect(latest.videoURL == "https://cdn.simulator.invalid/generations/\(accepted.id).mp4")
                // 5 s at 720p: 120,000 credits, $0.06 (the docs' example).
                #expect(latest.usage?.creditsUsed?.int64Value == 120_000)
                #expect(latest.usage?.usdSpent?.doubleValue == 0.06)
                #expect(latest.progress == .completed)
            }
        }
    }

    @Test func aSubmissionSendsTheBearerKeyJSONHeadersAndTheExactBody() async throws {
        let router = Router()
        router.post("/v2/video/generations") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1024 * 1024)
            return jsonResponse(
                .ok,
                .object(
                    JSONObject([
                        "id": .string("echo"),
                        "status": .string("queued"),
                        "authorization": .optional(request.headers[.authorization]),
                        "content_type": .optional(request.headers[.contentType]),
                        "accept": .optional(request.headers[.accept]),
                        "user_agent": .optional(request.headers[.userAgent]),
                        "body": .string(String(buffer: body)),
                    ])
                )
            )
        }
        try await withHTTPClient { client in
            try await LoopbackServer.serve(router) { port in
                let key = "sk-header-check-0123456789"
                let response = try #require(
                    await api(client, port: port, key: key).submit(body: validSeedanceBody, jobID: testJobID).response
                )
                let echoed = try JSONParser().parse(response.body)
                // The echo carries the key, so the adapter scrubbed it: the scrubbed text stands in.
                #expect(echoed["authorization"]?.stringValue == "Bearer [redacted]")
                #expect(echoed["content_type"]?.stringValue == "application/json")
                #expect(echoed["accept"]?.stringValue == "application/json")
                #expect(echoed["user_agent"]?.stringValue == "videospool")
                #expect(echoed["body"]?.stringValue == String(decoding: validSeedanceBody, as: UTF8.self))
            }
        }
    }

    // MARK: - Errors the API answers with

    @Test func aWrongKeyIsAnswered401() async throws {
        let simulator = quickSimulator()
        try await withHTTPClient { client in
            try await simulator.withRunningServer { port in
                let response = try #require(
                    await api(client, port: port, key: "not-the-key-at-all").submit(
                        body: validSeedanceBody,
                        jobID: testJobID
                    ).response
                )
                #expect(response.statusCode == 401)
                #expect(response.message == "This request requires a valid API key.")
                #expect(simulator.api.statistics.unauthorized == 1)
                #expect(simulator.api.statistics.acceptedSubmissions == 0)
            }
        }
    }

    @Test func anExhaustedKeyIsAnswered403() async throws {
        let simulator = quickSimulator(exhaustedKeys: ["sim-exhausted-key"])
        try await withHTTPClient { client in
            try await simulator.withRunningServer { port in
                let response = try #require(
                    await api(client, port: port, key: "sim-exhausted-key").submit(
                        body: validSeedanceBody,
                        jobID: testJobID
                    ).response
                )
                #expect(response.statusCode == 403)
                #expect(response.message.contains("run out of credits"))
                #expect(simulator.api.statistics.acceptedSubmissions == 0)
            }
        }
    }

    @Test(
        arguments: [
            (
                #"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"x","duration":5,"callback_url":"https://example.com/hook"}"#,
                "Body validation error! Unrecognized key: 'callback_url'"
            ),
            (
                #"{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"x","duration":"5"}"#,
                "Body validation error! Expected number, received string at 'duration'"
            ),
        ]
    )
    func aBodyTheAPIWouldRejectIsAnswered400WithItsMessage(body: String, message: String) async throws {
        let simulator = quickSimulator()
        try await withHTTPClient { client in
            try await simulator.withRunningServer { port in
                let response = try #require(
                    await api(client, port: port).submit(body: Array(body.utf8), jobID: testJobID).response
                )
                #expect(response.statusCode == 400)
                #expect(response.message == message)
                #expect(simulator.api.statistics.rejectedBodies == 1)
                #expect(simulator.api.statistics.acceptedSubmissions == 0)
            }
        }
    }

    @Test func pollingAnUnknownGenerationIsAnswered404() async throws {
        try await withHTTPClient { client in
            try await quickSimulator().withRunningServer { port in
                let response = try #require(
                    await api(client, port: port).status(of: "no-such-generation", jobID: testJobID).response
                )
                #expect(response.statusCode == 404)
                #expect(response.message == "Generation not found")
                #expect(response.status == nil)
            }
        }
    }

    // MARK: - Injected faults

    @Test(arguments: [(429, 7 as Int?), (503, nil), (500, nil), (502, 30)])
    func anInjectedStatusIsReportedWithItsRetryAfter(code: Int, retryAfter: Int?) async throws {
        let simulator = quickSimulator(faults: [
            FaultRule(endpoint: .submit, fault: .status(code, retryAfterSeconds: retryAfter))
        ])
        try await withHTTPClient { client in
            try await simulator.withRunningServer { port in
                let response = try #require(
                    await api(client, port: port).submit(body: validSeedanceBody, jobID: testJobID).response
                )
                #expect(response.statusCode == code)
                #expect(response.retryAfter == retryAfter.map { .seconds(Int64($0)) })
                #expect(simulator.api.statistics.acceptedSubmissions == 0)
            }
        }
    }

    @Test func aRetryAfterDateIsReported() async throws {
        let router = Router()
        router.post("/v2/video/generations") { _, _ -> Response in
            var response = jsonResponse(.tooManyRequests, .object(JSONObject(["message": .string("slow down")])))
            response.headers[.retryAfter] = "Wed, 21 Oct 2015 07:28:00 GMT"
            response.headers[HTTPField.Name("x-request-id")!] = "req-42"
            return response
        }
        try await withHTTPClient { client in
            try await LoopbackServer.serve(router) { port in
                let response = try #require(
                    await api(client, port: port).submit(body: validSeedanceBody, jobID: testJobID).response
                )
                #expect(response.statusCode == 429)
                #expect(response.retryAfter == RetryAfter(headerValue: "Wed, 21 Oct 2015 07:28:00 GMT"))
                #expect(response.retryAfter != nil)
                #expect(response.requestID == "req-42")
            }
        }
    }

    @Test(arguments: [FaultRule.Endpoint.submit, .poll])
    func aMalformedBodyIsHandedBackAsA200ThatDoesNotParse(endpoint: FaultRule.Endpoint) async throws {
        let simulator = quickSimulator()
        try await withHTTPClient { client in
            try await simulator.withRunningServer { port in
                let api = api(client, port: port)
                var generationID = "unknown"
                if endpoint == .poll {
                    generationID = try #require(
                        await api.submit(body: validSeedanceBody, jobID: testJobID).response?.status?.id
                    )
                }
                simulator.api.setFaults([FaultRule(endpoint: endpoint, fault: .malformedJSON)])
                let exchange =
                    endpoint == .submit
                    ? await api.submit(body: validSeedanceBody, jobID: testJobID)
                    : await api.status(of: generationID, jobID: testJobID)
                let response = try #require(exchange.response)
                #expect(response.statusCode == 200)
                #expect(!response.body.isEmpty)
                #expect(GenerationStatusResponse(body: response.body) == nil)
            }
        }
    }

    @Test func aConnectionDroppedMidResponseLeavesASubmissionsOutcomeUnknown() async throws {
        let simulator = quickSimulator(faults: [FaultRule(endpoint: .submit, fault: .dropConnection)])
        try await withHTTPClient { client in
            try await simulator.withRunningServer { port in
                let exchange = await api(client, port: port).submit(body: validSeedanceBody, jobID: testJobID)
                guard case .outcomeUnknown(let reason) = exchange else {
                    Issue.record("expected outcomeUnknown, got \(exchange)")
                    return
                }
                #expect(!reason.isEmpty)
                #expect(simulator.api.statistics.submissions == 1)
            }
        }
    }

    @Test func aSubmissionAnsweredAfterTheRequestTimeoutHasAnUnknownOutcome() async throws {
        let simulator = quickSimulator(faults: [FaultRule(endpoint: .submit, fault: .delay(.seconds(4)), remaining: 1)])
        try await withHTTPClient { client in
            try await simulator.withRunningServer { port in
                let started = ContinuousClock.now
                let exchange = await api(client, port: port, requestTimeout: .milliseconds(200))
                    .submit(body: validSeedanceBody, jobID: testJobID)
                // It gave up rather than waiting for the late answer (a loaded machine can make a
                // 200 ms timeout fire seconds late, so the bound is the answer's delay).
                #expect(ContinuousClock.now - started < .seconds(4))
                guard case .outcomeUnknown(let reason) = exchange else {
                    Issue.record("expected outcomeUnknown, got \(exchange)")
                    return
                }
                #expect(reason == "timed out")
                // The simulator did act on it (perhaps only now): the ambiguity "outcome unknown" names.
                var events = simulator.api.subscribe().makeAsyncIterator()
                guard case .accepted(let generationID, _)? = await events.next() else {
                    Issue.record("the simulator did not accept the submission")
                    return
                }
                #expect(simulator.api.generations.map(\.id) == [generationID])
            }
        }
    }

    /// A stop past its graceful limit cancels what is still running; a request must end then, not
    /// at its own deadline (which would outlast the stop's cancellation limit and crash the daemon).
    @Test func cancellingTheCallerCancelsTheRequestOnTheWire() async throws {
        // The answer is held back 12 s (the server's own shutdown waits for it); the request must end
        // well before that.
        let simulator = quickSimulator(faults: [FaultRule(endpoint: .submit, fault: .delay(.seconds(12)), remaining: 1)])
        try await withHTTPClient { client in
            try await simulator.withRunningServer { port in
                let api = api(client, port: port, requestTimeout: .seconds(60))
                let events = simulator.api.subscribe()
                let request = Task { await api.submit(body: validSeedanceBody, jobID: testJobID) }
                // On the wire: the simulator has it and holds the answer back.
                _ = try await events.collect(1) { if case .accepted = $0 { return true } else { return false } }
                request.cancel()
                let exchange = try await withTimeout(.seconds(6), waitingFor: "the cancelled request to end") {
                    await request.value
                }
                guard case .outcomeUnknown(let reason) = exchange else {
                    Issue.record("a cancelled POST that was sent has an unknown outcome; got \(exchange)")
                    return
                }
                #expect(reason.contains("cancelled"), "\(reason)")
            }
        }
    }

    @Test func aRequestToAClosedPortIsNotSent() async throws {
        let port = try await LoopbackServer.closedPort()
        try await withHTTPClient { client in
            let api = api(client, port: port)
            // AsyncHTTPClient retries refused connections until its connect timeout (10 s): in parallel.
            async let submitted = api.submit(body: validSeedanceBody, jobID: testJobID)
            async let polled = api.status(of: "abc", jobID: testJobID)
            for exchange in await [submitted, polled] {
                guard case .notSent(let reason) = exchange else {
                    Issue.record("expected notSent, got \(exchange)")
                    continue
                }
                #expect(reason == "connection refused")
            }
        }
    }

    @Test func anInvalidBaseURLIsNotSent() async throws {
        try await withHTTPClient { client in
            let api = HTTPGenerationAPI(
                client: client,
                configuration: HTTPGenerationAPI.Configuration(baseURL: "not a url", apiKey: simulatorKey),
                logger: quietLogger
            )
            let exchange = await api.submit(body: validSeedanceBody, jobID: testJobID)
            guard case .notSent = exchange else {
                Issue.record("expected notSent, got \(exchange)")
                return
            }
        }
    }

    // MARK: - Secrets and sizes

    @Test func theAPIKeyIsScrubbedFromBodiesThatEchoIt() async throws {
        let key = "sk-live-abcdef0123456789"
        let router = Router()
        let answer: @Sendable (Request) -> Response = { request in
            let presented = String((request.headers[.authorization] ?? "").dropFirst("Bearer ".count))
            return jsonResponse(
                .unauthorized,
                .object(JSONObject(["message": .string("bad key \(presented), really: \(presented)")]))
            )
        }
        router.post("/v2/video/generations") { request, _ in answer(request) }
        router.get("/v2/video/generations") { request, _ in answer(request) }
        try await withHTTPClient { client in
            try await LoopbackServer.serve(router) { port in
                let api = api(client, port: port, key: key)
                for exchange in [
                    await api.submit(body: validSeedanceBody, jobID: testJobID),
                    await api.status(of: "abc", jobID: testJobID),
                ] {
                    let response = try #require(exchange.response)
                    #expect(response.statusCode == 401)
                    #expect(!response.text.contains(key))
                    #expect(!response.message.contains(key))
                    #expect(response.message == "bad key [redacted], really: [redacted]")
                }
            }
        }
    }

    @Test func aLargeResponseBodyIsCutAtTheCap() async throws {
        let router = Router()
        router.get("/v2/video/generations") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(repeating: UInt8(ascii: "x"), count: 2 * 1024 * 1024))
            )
        }
        try await withHTTPClient { client in
            try await LoopbackServer.serve(router) { port in
                let response = try #require(
                    await api(client, port: port, maximumResponseBytes: 4096).status(of: "abc", jobID: testJobID)
                        .response
                )
                #expect(response.statusCode == 200)
                #expect(response.body.count == 4096)
            }
        }
    }

    @Test func aBodyThatNeverEndsIsCutAtTheCap() async throws {
        let router = Router()
        router.get("/v2/video/generations") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: endlessBody())
        }
        try await withHTTPClient { client in
            try await LoopbackServer.serve(router) { port in
                // An answer at all (not a timeout) shows the cap ended the read: the body never ends.
                let exchange = await api(client, port: port, requestTimeout: .seconds(60), maximumResponseBytes: 4096)
                    .status(of: "abc", jobID: testJobID)
                let response = try #require(exchange.response, "got \(exchange)")
                #expect(response.statusCode == 200)
                #expect(response.body.count == 4096)
            }
        }
    }

    @Test(
        arguments: [
            ("plain-id_1.2~3", "plain-id_1.2~3"),
            ("a b", "a%20b"),
            ("a&b=c", "a%26b%3Dc"),
            ("x/../y?z#w", "x%2F..%2Fy%3Fz%23w"),
            ("1+1", "1%2B1"),
            ("é%", "%C3%A9%25"),
        ]
    )
    func generationIDsArePercentEncodedInTheQuery(id: String, encoded: String) async throws {
        let router = Router()
        router.get("/v2/video/generations") { request, _ -> Response in
            jsonResponse(
                .ok,
                .object(
                    JSONObject([
                        "id": .string("echo"),
                        "status": .string("queued"),
                        "query": .optional(request.uri.query),
                        "generation_id": .optional(request.uri.queryParameters.get("generation_id")),
                    ])
                )
            )
        }
        try await withHTTPClient { client in
            try await LoopbackServer.serve(router) { port in
                let response = try #require(await api(client, port: port).status(of: id, jobID: testJobID).response)
                let echoed = try JSONParser().parse(response.body)
                #expect(echoed["query"]?.stringValue == "generation_id=" + encoded)
                #expect(echoed["generation_id"]?.stringValue == id)
            }
        }
    }

    @Test func aTrailingSlashInTheBaseURLIsDropped() {
        let configuration = HTTPGenerationAPI.Configuration(baseURL: "http://127.0.0.1:1/", apiKey: "k")
        #expect(configuration.baseURL == "http://127.0.0.1:1")
    }
}
