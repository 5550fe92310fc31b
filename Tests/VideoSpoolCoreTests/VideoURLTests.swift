import Testing
import VideoSpoolCore

/// A completed generation's `video.url` goes to receivers, who render and fetch it: only an absolute
/// `https` URL (or `http` when `api.base_url` is http) is passed on; anything else fails the job with
/// `invalid_video_url`, and the raw value is kept for the log only.
struct VideoURLTests {
    /// A job submitted 60 s before `referenceTime` and polled once.
    private func generatingJob() -> Job {
        var job = makeJob(phase: .generating, acceptedAt: referenceTime - .seconds(65))
        job.submitAttempts = 1
        job.generationID = "gen-1"
        job.submittedAt = referenceTime - .seconds(60)
        job.upstreamStatus = "generating"
        job.polls = 1
        return job
    }

    /// A poll answered 200 with a completed generation whose `video.url` is `url`.
    private func completed(videoURL url: String) -> APIExchange {
        let body = JSONObject([
            "id": .string("gen-1"),
            "status": .string("completed"),
            "video": .object(JSONObject(["url": .string(url)])),
            "meta": .object(JSONObject(["usage": .object(JSONObject(["credits_used": .int(120_000)]))])),
        ])
        return .response(APIResponse(statusCode: 200, retryAfter: nil, body: JSONWriter().bytes(.object(body))))
    }

    private func poll(videoURL url: String, acceptsHTTP: Bool) -> Job {
        let machine = JobStateMachine(policy: PipelinePolicy(acceptsHTTPVideoURLs: acceptsHTTP))
        var random = SplitMix64(seed: 1)
        var job = generatingJob()
        let action = machine.pollFinished(&job, exchange: completed(videoURL: url), now: referenceTime, using: &random)
        #expect(action == .finish, "a completed generation always ends the job")
        return job
    }

    static let hostile: [String] = [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "data:video/mp4;base64,AAAAIGZ0eXBpc29t",
        "ftp://cdn.example.com/video.mp4",
        "//cdn.example.com/video.mp4",
        "/generations/gen-1.mp4",
        "gen-1.mp4",
        "https:",
        "https://",
        "https:///etc/passwd",
        "https:/cdn.example.com/video.mp4",
        "https://user:password@cdn.example.com/video.mp4",
        "https://cdn.example.com@evil.example/video.mp4",
        " https://cdn.example.com/video.mp4",
        "https://cdn.example.com/video.mp4 ",
        "https://cdn.example.com/a video.mp4",
        "https://cdn.example.com/video.mp4\njavascript:alert(1)",
        "https://cdn.example.com:99999/video.mp4",
        "https://<script>/video.mp4",
        "http://cdn.example.com/video.mp4",
        "https://cdn.example.com/" + String(repeating: "a", count: PipelinePolicy.maximumVideoURLLength),
    ]

    @Test(arguments: VideoURLTests.hostile)
    func aHostileVideoURLFailsTheJobAndIsKeptOnlyForTheLog(url: String) throws {
        let job = poll(videoURL: url, acceptsHTTP: false)
        #expect(job.phase == .failed)
        let failure = try #require(job.failure)
        #expect(failure.code == .invalidVideoURL)
        #expect(failure.code.description == "invalid_video_url")
        #expect(job.videoURL == nil, "the URL is not the job's video")
        // The message goes into the store, the webhook and the outcome file: it never quotes the URL.
        #expect(failure.message.hasPrefix("the API reported the generation completed, but its video URL "))
        #expect(!failure.message.contains(url))
        for telltale in ["passwd", "alert", "script", "example", "evil", "base64", "password", "99999", "mp4"] {
            #expect(!failure.message.contains(telltale), "\(telltale) in \(failure.message)")
        }
        // The log gets it, quoted and escaped so it stays one line.
        let detail = try #require(failure.logDetail)
        #expect(detail.hasPrefix("\""))
        #expect(!detail.contains("\n"))
        #expect(detail.contains(String(url.prefix(20)).debugDescription.dropFirst().dropLast()))
        // The generation was billed: its usage is reported with the failure.
        #expect(job.usage?.creditsUsed?.text == "120000")
        #expect(job.finishedAt == referenceTime)
    }

    @Test func theWebhookOfAnInvalidVideoURLCarriesNeitherTheURLNorAVideo() throws {
        let url = "javascript:alert(1)"
        let job = poll(videoURL: url, acceptsHTTP: false)
        let event = WebhookPayload.finished(job, eventID: "msg_1", now: referenceTime)
        let body = String(decoding: event.body, as: UTF8.self)
        #expect(!body.contains("alert"))
        let document = try JSONParser().parse(event.body)
        #expect(document["type"] == .string("video.generation.failed"))
        #expect(document["data"]?["video"] == .null)
        #expect(document["data"]?["error"]?["code"] == .string("invalid_video_url"))
    }

    @Test(arguments: [
        "https://cdn.example.com/generations/gen-1.mp4",
        "HTTPS://CDN.example.com/gen-1.mp4",
        "https://cdn.example.com:8443/gen-1.mp4?X-Amz-Signature=abc%2Fdef&X-Amz-Expires=3600",
        "https://[2001:db8::1]/gen-1.mp4",
        "https://cdn.example.com/" + String(repeating: "a", count: 4000),
    ])
    func anHTTPSVideoURLIsPassedOnAsItIs(url: String) {
        let job = poll(videoURL: url, acceptsHTTP: false)
        #expect(job.phase == .completed)
        #expect(job.videoURL == url)
        #expect(job.failure == nil)
    }

    @Test func anHTTPVideoURLIsPassedOnOnlyWhenTheAPIIsReachedOverHTTP() {
        let url = "http://127.0.0.1:8089/videos/gen-1.mp4"
        let strict = poll(videoURL: url, acceptsHTTP: false)
        #expect(strict.failure?.code == .invalidVideoURL)
        #expect(strict.failure?.message.contains("uses http") == true)
        let local = poll(videoURL: url, acceptsHTTP: true)
        #expect(local.phase == .completed)
        #expect(local.videoURL == url)
        // http being allowed opens nothing else.
        for hostile in ["file:///etc/passwd", "javascript:alert(1)", "http://user@127.0.0.1/x.mp4", "/x.mp4"] {
            #expect(poll(videoURL: hostile, acceptsHTTP: true).failure?.code == .invalidVideoURL, "\(hostile)")
        }
    }

    @Test func anEmptyOrAbsentVideoURLIsStillMissingNotInvalid() {
        #expect(poll(videoURL: "", acceptsHTTP: false).failure?.code == .missingVideoURL)
    }

    @Test func theLogDetailIsCutForAHugeURL() throws {
        let url = "javascript:" + String(repeating: "x", count: 100_000)
        let failure = try #require(poll(videoURL: url, acceptsHTTP: false).failure)
        let detail = try #require(failure.logDetail)
        #expect(detail.count < 2200)
        #expect(detail.hasSuffix("(100011 bytes)"))
    }

    @Test func theLogDetailIsNotPartOfAFailuresIdentity() {
        let plain = JobFailure(code: .invalidVideoURL, message: "m")
        let detailed = JobFailure(code: .invalidVideoURL, message: "m", logDetail: "\"file:///etc/passwd\"")
        #expect(plain == detailed)
        #expect(plain.hashValue == detailed.hashValue)
    }
}
