/// Builds the webhook documents: `{"type", "timestamp", "data"}` as Standard Webhooks recommends,
/// with `data` describing the job. The same document, plus delivery states, is the outcome file.
public enum WebhookPayload {
    /// The `video.generation.completed`, `.failed` or `.canceled` event for a finished job;
    /// `storage` is how storing its video ended, when it was stored before the announcement.
    public static func finished(
        _ job: Job,
        eventID: String,
        now: Timestamp,
        storage: VideoStorageOutcome? = nil
    ) -> WebhookEvent {
        let type: WebhookEvent.EventType =
            switch job.phase {
            case .completed: .completed
            case .failed: .failed
            case .canceled: .canceled
            case .queued, .submitting, .generating, .storing, .rejected:
                preconditionFailure("Invalid state: \(job.phase) is not finished")
            }
        var data = JSONObject()
        data["job_id"] = .string(job.id.rawValue)
        data["generation_id"] = .optional(job.generationID)
        data["model"] = .string(job.model)
        data["status"] = .string(job.phase.rawValue)
        data["video"] = job.videoURL.map { videoJSON(url: $0, storage: storage) } ?? .null
        data["error"] = job.failure.map(errorJSON) ?? .null
        data["usage"] = job.usage?.json ?? .null
        data["metadata"] = job.metadata.map(JSONValue.object) ?? .null
        data["source_file"] = .string(job.sourceName)
        data["submit_attempts"] = .int(Int64(job.submitAttempts))
        data["polls"] = .int(Int64(job.polls))
        data["accepted_at"] = .string(job.acceptedAt.iso8601)
        data["submitted_at"] = .optional(job.submittedAt?.iso8601)
        data["finished_at"] = .string((job.finishedAt ?? now).iso8601)
        return event(id: eventID, jobID: job.id, type: type, now: now, data: data)
    }

    /// The `video.generation.rejected` event for an invalid request file.
    ///
    /// `recordID` is the store's id for the rejection; the payload's `job_id` is the id the request
    /// asked for when it had a well-formed one (a duplicate's rejection names the id it tried to reuse).
    public static func rejected(
        _ request: RejectedRequest,
        recordID: JobID,
        sourceName: String,
        eventID: String,
        now: Timestamp
    ) -> WebhookEvent {
        var data = JSONObject()
        data["job_id"] = .string((request.requestedJobID ?? recordID).rawValue)
        data["generation_id"] = .null
        data["model"] = .optional(request.model)
        data["status"] = .string(JobPhase.rejected.rawValue)
        data["video"] = .null
        data["error"] = errorJSON(JobFailure(code: .rejected, message: request.summary))
        data["errors"] = .array(request.issues.map(\.json))
        data["usage"] = .null
        data["metadata"] = request.metadata.map(JSONValue.object) ?? .null
        data["source_file"] = .string(sourceName)
        data["accepted_at"] = .null
        data["submitted_at"] = .null
        data["finished_at"] = .string(now.iso8601)
        return event(id: eventID, jobID: recordID, type: .rejected, now: now, data: data)
    }

    private static func event(
        id: String,
        jobID: JobID,
        type: WebhookEvent.EventType,
        now: Timestamp,
        data: JSONObject
    ) -> WebhookEvent {
        let document = JSONValue.object(
            JSONObject([
                "type": .string(type.description),
                "timestamp": .string(now.iso8601),
                "data": .object(data),
            ])
        )
        return WebhookEvent(id: id, jobID: jobID, type: type, createdAt: now, body: JSONWriter().bytes(document))
    }

    private static func videoJSON(url: String, storage: VideoStorageOutcome?) -> JSONValue {
        var video = JSONObject(["url": .string(url)])
        switch storage {
        case .stored(let stored, let upload)?:
            if case .uploaded(_, localCopyKept: false) = upload {
                // Removed once the upload was confirmed: the object is the copy.
            } else {
                video["file"] = .string(stored.path)
            }
            video["bytes"] = .int(stored.bytes)
            video["sha256"] = .string(stored.sha256)
            video["content_type"] = .string(stored.contentType)
            switch upload {
            case .uploaded(let uploaded, _)?:
                video["object"] = .string(uploaded.object)
                video["object_url"] = .string(uploaded.url)
                video["object_url_expires_at"] = .string(uploaded.urlExpiresAt.iso8601)
            case .failed(let error)?:
                video["upload_error"] = .string(error.message)
            case nil:
                break
            }
        case .failed(let error)?:
            video["download_error"] = .string(error.message)
        case nil:
            break
        }
        return .object(video)
    }

    /// The object (`s3://bucket/key`) a completed event announced, if its video was uploaded.
    public static func announcedObject(in event: WebhookEvent) -> String? {
        guard event.type == .completed, let document = try? JSONParser().parse(event.body) else { return nil }
        return document["data"]?["video"]?["object"]?.stringValue
    }

    private static func errorJSON(_ failure: JobFailure) -> JSONValue {
        .object(JSONObject(["code": .string(failure.code.description), "message": .string(failure.message)]))
    }
}
