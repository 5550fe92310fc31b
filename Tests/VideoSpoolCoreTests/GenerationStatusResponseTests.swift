import Testing
import VideoSpoolCore

private func parse(_ text: String) -> GenerationStatusResponse? {
    GenerationStatusResponse(body: Array(text.utf8))
}

struct GenerationStatusResponseTests {
    @Test func theDocumentedCompletedResponseParses() throws {
        let response = try #require(
            parse(
                """
                {
                  "id": "a1b2c3d4-e5f6:bytedance/dreamina-seedance-2-0-mini",
                  "status": "completed",
                  "video": {"url": "https://cdn.aimlapi.com/generations/a1b2c3d4.mp4"},
                  "error": null,
                  "meta": {"usage": {"credits_used": 126000, "usd_spent": 0.063}}
                }
                """
            )
        )
        #expect(response.id == "a1b2c3d4-e5f6:bytedance/dreamina-seedance-2-0-mini")
        #expect(response.status == "completed")
        #expect(response.progress == .completed)
        #expect(response.videoURL == "https://cdn.aimlapi.com/generations/a1b2c3d4.mp4")
        #expect(response.errorName == nil)
        #expect(response.errorMessage == nil)
        let usage = try #require(response.usage)
        #expect(usage.creditsUsed?.text == "126000")
        #expect(usage.usdSpent?.text == "0.063")
    }

    @Test func theDocumentedErrorResponseParses() throws {
        let response = try #require(
            parse(
                #"{"id":"gen-2","status":"error","video":null,"error":{"name":"ContentPolicyViolation","message":"the prompt was flagged"}}"#
            )
        )
        #expect(response.progress == .failed)
        #expect(response.videoURL == nil)
        #expect(response.errorName == "ContentPolicyViolation")
        #expect(response.errorMessage == "the prompt was flagged")
        #expect(response.failureDescription == "ContentPolicyViolation: the prompt was flagged")
        #expect(response.usage == nil)
    }

    @Test func aQueuedSubmissionAnswerParses() throws {
        let response = try #require(parse(#"{"id":"gen-3","status":"queued"}"#))
        #expect(response.id == "gen-3")
        #expect(response.progress == .running)
        #expect(response.videoURL == nil)
        #expect(response.usage == nil)
    }

    @Test func aGenerationIDKeyIsAcceptedInPlaceOfID() throws {
        let response = try #require(parse(#"{"generation_id":"gen-4","status":"generating"}"#))
        #expect(response.id == "gen-4")
    }

    @Test func theStatusIsLowercased() throws {
        let response = try #require(parse(#"{"id":"gen-5","status":"COMPLETED","video":{"url":"https://x/y.mp4"}}"#))
        #expect(response.status == "completed")
        #expect(response.progress == .completed)
    }

    @Test func usageFiguresMayBeMissing() throws {
        let response = try #require(parse(#"{"id":"g","status":"completed","meta":{"usage":{"credits_used":5}}}"#))
        #expect(response.usage?.creditsUsed?.text == "5")
        #expect(response.usage?.usdSpent == nil)
        #expect(try #require(parse(#"{"id":"g","status":"completed","meta":{"usage":null}}"#)).usage == nil)
        #expect(try #require(parse(#"{"id":"g","status":"completed","meta":{}}"#)).usage == nil)
    }

    @Test(arguments: [
        "",
        "not json",
        "[]",
        #""completed""#,
        "{}",
        #"{"status":"completed"}"#,
        #"{"id":"gen-1"}"#,
        #"{"id":"","status":"queued"}"#,
        #"{"id":42,"status":"queued"}"#,
        #"{"id":"gen-1","status":3}"#,
        #"{"id":"gen-1","status":null}"#,
        #"{"id":null,"status":"queued"}"#,
        #"{"id":"gen-1","status":"queued","id":"gen-2"}"#,
    ])
    func bodiesWithoutAnIDAndAStatusAreRejected(body: String) {
        #expect(parse(body) == nil)
    }

    @Test(arguments: [
        ("queued", GenerationStatusResponse.Progress.running),
        ("generating", .running),
        ("processing", .running),
        ("in_progress", .running),
        ("pending", .running),
        ("running", .running),
        ("starting", .running),
        ("completed", .completed),
        ("succeeded", .completed),
        ("success", .completed),
        ("error", .failed),
        ("failed", .failed),
        ("failure", .failed),
        ("cancelled", .failed),
        ("canceled", .failed),
        ("expired", .failed),
        ("timeout", .failed),
        ("timed_out", .failed),
        ("rejected", .failed),
        ("paused", .unknown),
        ("", .unknown),
    ])
    func statusesMapToProgress(status: String, progress: GenerationStatusResponse.Progress) {
        #expect(GenerationStatusResponse(id: "g", status: status).progress == progress)
    }

    @Test(arguments: [
        ("BadPrompt", "flagged", "BadPrompt: flagged"),
        ("BadPrompt", nil, "BadPrompt"),
        (nil, "flagged", "flagged"),
        ("", "flagged", "flagged"),
        (nil, nil, "the generation ended with status 'error'"),
        ("", "", "the generation ended with status 'error'"),
    ] as [(String?, String?, String)])
    func theFailureDescriptionUsesWhateverIsPresent(name: String?, message: String?, description: String) {
        let response = GenerationStatusResponse(id: "g", status: "error", errorName: name, errorMessage: message)
        #expect(response.failureDescription == description)
    }

    @Test func aVeryLongFailureDescriptionIsClipped() {
        let response = GenerationStatusResponse(id: "g", status: "error", errorMessage: String(repeating: "e", count: 5000))
        #expect(response.failureDescription.count <= 501)
    }
}

struct APIResponseTests {
    @Test(arguments: [
        (#"{"message":"prompt is required"}"#, "prompt is required"),
        (#"{"error":{"message":"invalid api key","code":"unauthorized"}}"#, "invalid api key"),
        (#"{"message":"top","error":{"message":"nested"}}"#, "top"),
        ("  Service Unavailable\n", "Service Unavailable"),
        ("", "no message"),
        ("   ", "no message"),
        (#"{"statusCode":500}"#, #"{"statusCode":500}"#),
    ])
    func theMessageIsTheAPIsOwnExplanation(body: String, message: String) {
        #expect(APIResponse(statusCode: 400, body: Array(body.utf8)).message == message)
    }

    @Test func longBodiesAreClipped() {
        let response = APIResponse(statusCode: 502, body: Array(String(repeating: "x", count: 10_000).utf8))
        #expect(response.message.count <= 201)
        let long = APIResponse(statusCode: 400, body: Array(#"{"message":"\#(String(repeating: "m", count: 1000))"}"#.utf8))
        #expect(long.message.count <= 301)
    }
}

struct JobIDTests {
    @Test(arguments: ["a", "job-1", "A.b_C-9", "01JDXTESTULID0000000000000", String(repeating: "x", count: 128)])
    func validIDsAreAccepted(text: String) {
        #expect(JobID(text)?.rawValue == text)
        #expect(JobID.isValid(text))
    }

    @Test(arguments: ["", " ", "a b", "a/b", "..\\x", "é", "a\u{0}", "job:1", String(repeating: "x", count: 129)])
    func invalidIDsAreRefused(text: String) {
        #expect(JobID(text) == nil)
    }

    @Test func idsOrderByTheirText() {
        #expect(JobID("a")! < JobID("b")!)
        #expect(JobID(trusted: "anything goes").description == "anything goes")
    }
}
