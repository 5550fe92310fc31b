import Testing
import VideoSpoolCore

private let acceptedAt = referenceTime
private let submittedAt = referenceTime + .seconds(2)
private let finishedAt = referenceTime + .milliseconds(95_250)
private let sentAt = referenceTime + .seconds(96)

private func completedJob() throws -> Job {
    var job = makeJob(phase: .completed, acceptedAt: acceptedAt, metadata: try jsonObject(#"{"order":"A-42","n":1.50,"tags":["x"]}"#))
    job.generationID = "gen-123"
    job.submitAttempts = 1
    job.submittedAt = submittedAt
    job.polls = 4
    job.finishedAt = finishedAt
    job.videoURL = "https://cdn.example.com/gen-123.mp4"
    job.usage = Usage(creditsUsed: try json("126000").numberValue, usdSpent: try json("0.063").numberValue)
    return job
}

private func failedJob() -> Job {
    var job = makeJob(phase: .failed, acceptedAt: acceptedAt)
    job.submitAttempts = 1
    job.finishedAt = finishedAt
    job.failure = JobFailure(code: .submissionOutcomeUnknown, message: "the API did not confirm the submission")
    return job
}

struct WebhookPayloadTests {
    private func document(_ event: WebhookEvent) throws -> JSONObject {
        try #require(try parsed(event.body).objectValue)
    }

    private func data(_ event: WebhookEvent) throws -> JSONObject {
        try #require(try document(event)["data"]?.objectValue)
    }

    @Test func aCompletedJobBecomesACompletedEvent() throws {
        let event = WebhookPayload.finished(try completedJob(), eventID: "msg_01JDXTEST", now: sentAt)
        #expect(event.id == "msg_01JDXTEST")
        #expect(event.type == .completed)
        #expect(event.type.description == "video.generation.completed")
        #expect(event.jobID == JobID("job-1"))
        #expect(event.createdAt == sentAt)

        let document = try document(event)
        #expect(document.keys == ["type", "timestamp", "data"])
        #expect(document["type"] == .string("video.generation.completed"))
        #expect(document["timestamp"] == .string(sentAt.iso8601))

        let data = try data(event)
        #expect(data["job_id"] == .string("job-1"))
        #expect(data["generation_id"] == .string("gen-123"))
        #expect(data["model"] == .string(seedanceModel))
        #expect(data["status"] == .string("completed"))
        #expect(data["video"] == .object(try jsonObject(#"{"url":"https://cdn.example.com/gen-123.mp4"}"#)))
        #expect(data["error"] == .null)
        #expect(data["usage"] == .object(try jsonObject(#"{"credits_used":126000,"usd_spent":0.063}"#)))
        #expect(data["metadata"] == .object(try jsonObject(#"{"order":"A-42","n":1.50,"tags":["x"]}"#)))
        #expect(data["source_file"] == .string("job-1.json"))
        #expect(data["submit_attempts"] == .int(1))
        #expect(data["polls"] == .int(4))
        #expect(data["accepted_at"] == .string(acceptedAt.iso8601))
        #expect(data["submitted_at"] == .string(submittedAt.iso8601))
        #expect(data["finished_at"] == .string(finishedAt.iso8601))
    }

    @Test func metadataNumbersAreEchoedAsWritten() throws {
        let event = WebhookPayload.finished(try completedJob(), eventID: "msg_1", now: sentAt)
        let text = String(decoding: event.body, as: UTF8.self)
        #expect(text.contains(#""n":1.50"#))
        #expect(text.contains(#""usd_spent":0.063"#))
    }

    @Test func aFailedJobBecomesAFailedEvent() throws {
        let event = WebhookPayload.finished(failedJob(), eventID: "msg_2", now: sentAt)
        #expect(event.type == .failed)
        let document = try document(event)
        #expect(document["type"] == .string("video.generation.failed"))
        let data = try data(event)
        #expect(data["status"] == .string("failed"))
        #expect(data["generation_id"] == .null)
        #expect(data["video"] == .null)
        #expect(
            data["error"]
                == .object(
                    try jsonObject(
                        #"{"code":"submission_outcome_unknown","message":"the API did not confirm the submission"}"#
                    )
                )
        )
        #expect(data["usage"] == .null)
        #expect(data["metadata"] == .null)
        #expect(data["submitted_at"] == .null)
    }

    @Test func aFailedGenerationKeepsItsIDAndUsage() throws {
        var job = failedJob()
        job.generationID = "gen-9"
        job.usage = Usage(creditsUsed: JSONNumber(0), usdSpent: nil)
        job.failure = JobFailure(code: .generationFailed, message: "ContentPolicy: flagged")
        let data = try data(WebhookPayload.finished(job, eventID: "msg_3", now: sentAt))
        #expect(data["generation_id"] == .string("gen-9"))
        #expect(data["usage"] == .object(try jsonObject(#"{"credits_used":0,"usd_spent":null}"#)))
        #expect(data["error"]?["code"] == .string("generation_failed"))
    }

    @Test func theFinishTimeFallsBackToNow() throws {
        var job = failedJob()
        job.finishedAt = nil
        let data = try data(WebhookPayload.finished(job, eventID: "msg_4", now: sentAt))
        #expect(data["finished_at"] == .string(sentAt.iso8601))
    }

    @Test func theBodyIsCompactAndStable() throws {
        let job = try completedJob()
        let first = WebhookPayload.finished(job, eventID: "msg_5", now: sentAt)
        let second = WebhookPayload.finished(job, eventID: "msg_5", now: sentAt)
        #expect(first.body == second.body)
        #expect(!first.body.contains(UInt8(ascii: "\n")))
    }

    // MARK: - Rejections

    private func rejection() throws -> RejectedRequest {
        RejectedRequest(
            issues: [
                ValidationIssue(field: "duration", code: .outOfRange, message: "'duration' must be between 4 and 15 (got 20)"),
                ValidationIssue(field: nil, code: "invalid_json", message: "bad"),
            ],
            callbackURLs: ["https://hooks.example.com/h"],
            metadata: try jsonObject(#"{"order":"A-7"}"#),
            requestedJobID: JobID("req-7"),
            model: seedanceModel
        )
    }

    @Test func aRejectedRequestBecomesARejectedEventListingEveryIssue() throws {
        let request = try rejection()
        let event = WebhookPayload.rejected(
            request,
            recordID: JobID("01JDXRECORD")!,
            sourceName: "req-7.json",
            eventID: "msg_6",
            now: sentAt
        )
        #expect(event.type == .rejected)
        #expect(event.id == "msg_6")
        #expect(event.jobID == JobID("01JDXRECORD"), "the event belongs to the store's record")
        let document = try document(event)
        #expect(document["type"] == .string("video.generation.rejected"))
        #expect(document["timestamp"] == .string(sentAt.iso8601))
        let data = try data(event)
        #expect(data["job_id"] == .string("req-7"), "the payload names the id the request asked for")
        #expect(data["status"] == .string("rejected"))
        #expect(data["model"] == .string(seedanceModel))
        #expect(data["generation_id"] == .null)
        #expect(data["video"] == .null)
        #expect(data["usage"] == .null)
        #expect(data["error"]?["code"] == .string("invalid_request"))
        #expect(data["error"]?["message"] == .string(request.summary))
        #expect(data["metadata"] == .object(try jsonObject(#"{"order":"A-7"}"#)))
        #expect(data["source_file"] == .string("req-7.json"))
        let errors = try #require(data["errors"]?.arrayValue)
        #expect(errors.count == 2)
        #expect(
            errors[0]
                == .object(
                    try jsonObject(
                        #"{"field":"duration","code":"out_of_range","message":"'duration' must be between 4 and 15 (got 20)"}"#
                    )
                )
        )
        #expect(errors[1]["field"] == .null)
        #expect(errors[1]["code"] == .string("invalid_json"))
    }

    @Test func aRejectionWithoutAModelSaysNull() throws {
        let request = RejectedRequest(issues: [ValidationIssue(field: nil, code: "empty_file", message: "the file is empty")])
        let data = try data(
            WebhookPayload.rejected(request, recordID: JobID("x")!, sourceName: "x.json", eventID: "msg_7", now: sentAt)
        )
        #expect(data["job_id"] == .string("x"), "without a requested id, the record's id is used")
        #expect(data["model"] == .null)
        #expect(data["metadata"] == .null)
        #expect(data["error"]?["message"] == .string("the file is empty"))
    }

    @Test func aRejectionOfAValidatorOutcomeRoundTrips() throws {
        let outcome = RequestValidator().validate(
            Array(#"{"model":"\#(seedanceModel)","prompt":"","callback_url":"https://h.example/x","metadata":{"k":1}}"#.utf8)
        )
        guard case .invalid(let request) = outcome else {
            Issue.record("expected a rejection")
            return
        }
        let data = try data(
            WebhookPayload.rejected(request, recordID: JobID("j")!, sourceName: "j.json", eventID: "msg_8", now: sentAt)
        )
        #expect(data["errors"]?.arrayValue?.first?["code"] == .string("empty_value"))
        #expect(data["metadata"]?["k"] == .int(1))
    }

    @Test func theEventTypesHaveTheirDocumentedNames() {
        #expect(WebhookEvent.EventType.completed.description == "video.generation.completed")
        #expect(WebhookEvent.EventType.failed.description == "video.generation.failed")
        #expect(WebhookEvent.EventType.rejected.description == "video.generation.rejected")
    }
}

struct OutcomeDocumentTests {
    private func delivery(index: Int, url: String) -> Delivery {
        Delivery(id: Delivery.ID(eventID: "msg_1", index: index), jobID: JobID("job-1")!, url: url, nextAttemptAt: sentAt)
    }

    @Test func theOutcomeIsTheEventPlusRedactedDeliveries() throws {
        let event = WebhookPayload.finished(try completedJob(), eventID: "msg_1", now: sentAt)
        var delivered = delivery(index: 1, url: "https://b.example.com/hook?token=s3cr3t")
        delivered.state = .delivered
        delivered.attempts = 2
        delivered.lastStatusCode = 204
        delivered.lastAttemptAt = sentAt + .seconds(5)
        delivered.deliveredAt = sentAt + .seconds(5)
        delivered.nextAttemptAt = nil
        var pending = delivery(index: 0, url: "https://a.example.com/hook?sig=abc#frag")
        pending.attempts = 1
        pending.lastStatusCode = 500
        pending.lastError = "HTTP 500"
        pending.lastAttemptAt = sentAt

        let bytes = OutcomeDocument.render(eventBody: event.body, deliveries: [delivered, pending])
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(!text.contains("s3cr3t"))
        #expect(!text.contains("sig=abc"))
        #expect(text.contains("\n  \"type\": "), "outcome files are pretty-printed")

        let document = try #require(try parsed(bytes).objectValue)
        #expect(document.keys == ["type", "timestamp", "data", "deliveries"])
        #expect(document["data"] == (try parsed(event.body))["data"])
        let deliveries = try #require(document["deliveries"]?.arrayValue)
        #expect(deliveries.count == 2)
        #expect(deliveries[0]["url"] == .string("https://a.example.com/hook?…"), "sorted by index")
        #expect(deliveries[0]["state"] == .string("pending"))
        #expect(deliveries[0]["attempts"] == .int(1))
        #expect(deliveries[0]["last_status"] == .int(500))
        #expect(deliveries[0]["last_error"] == .string("HTTP 500"))
        #expect(deliveries[0]["last_attempt_at"] == .string(sentAt.iso8601))
        #expect(deliveries[0]["next_attempt_at"] == .string(sentAt.iso8601))
        #expect(deliveries[0]["delivered_at"] == .null)
        #expect(deliveries[1]["url"] == .string("https://b.example.com/hook?…"))
        #expect(deliveries[1]["state"] == .string("delivered"))
        #expect(deliveries[1]["last_status"] == .int(204))
        #expect(deliveries[1]["last_error"] == .null)
        #expect(deliveries[1]["next_attempt_at"] == .null)
        #expect(deliveries[1]["delivered_at"] == .string((sentAt + .seconds(5)).iso8601))
    }

    @Test func anUnparseableDeliveryURLIsReplacedByAPlaceholder() throws {
        let event = WebhookPayload.finished(failedJob(), eventID: "msg_2", now: sentAt)
        let bytes = OutcomeDocument.render(eventBody: event.body, deliveries: [delivery(index: 0, url: "ftp://u:p@h/?t=1")])
        let deliveries = try #require(try parsed(bytes)["deliveries"]?.arrayValue)
        #expect(deliveries.first?["url"] == .string("(unparseable URL)"))
    }

    @Test func noDeliveriesGiveAnEmptyList() throws {
        let event = WebhookPayload.finished(failedJob(), eventID: "msg_3", now: sentAt)
        let document = try parsed(OutcomeDocument.render(eventBody: event.body, deliveries: []))
        #expect(document["deliveries"] == .array([]))
        #expect(document["type"] == .string("video.generation.failed"))
    }

    @Test func theRejectionFileListsTheErrors() throws {
        let request = RejectedRequest(
            issues: [ValidationIssue(field: "prompt", code: .missingField, message: "'prompt' is required")]
        )
        let bytes = OutcomeDocument.rejection(request, jobID: JobID("r-1"), sourceName: "r-1.json", now: sentAt)
        let document = try #require(try parsed(bytes).objectValue)
        #expect(document.keys == ["file", "job_id", "rejected_at", "errors"])
        #expect(document["file"] == .string("r-1.json"))
        #expect(document["job_id"] == .string("r-1"))
        #expect(document["rejected_at"] == .string(sentAt.iso8601))
        #expect(
            document["errors"]
                == .array([.object(try jsonObject(#"{"field":"prompt","code":"missing_field","message":"'prompt' is required"}"#))])
        )
        let anonymous = try parsed(OutcomeDocument.rejection(request, jobID: nil, sourceName: "x.json", now: sentAt))
        #expect(anonymous["job_id"] == .null)
    }
}
