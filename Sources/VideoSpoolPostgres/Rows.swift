import NIOCore
import PostgresNIO
import VideoSpoolCore

/// Rows to values and back, as SQLiteJobStore spells them (JSON text for lists and metadata,
/// numbers as the API wrote them, milliseconds for the app's timestamps).
enum Rows {
    /// The columns ``job(_:appNow:)`` reads, from a `jobs` row aliased `alias`. `due_in_ms` is the
    /// time until `run_after` by the database's clock.
    static func jobColumns(_ alias: String = "jobs") -> String {
        [
            "seq", "id", "phase", "model", "callback_urls", "metadata", "accepted_at", "source_name", "resolution",
            "duration_seconds", "submit_attempts", "submit_allowance", "fence", "submitted_at", "generation_id",
            "upstream_status", "polls", "last_running_at", "requeued_at", "consecutive_poll_failures",
            "consecutive_not_found", "finished_at", "video_url", "credits_used", "usd_spent", "failure_code",
            "failure_message", "pending_deliveries",
        ].map { "\(alias).\($0)" }.joined(separator: ", ")
            + ", round(extract(epoch FROM \(alias).run_after - now()) * 1000)::bigint AS due_in_ms"
    }

    /// A job from a row of ``jobColumns(_:)``; its next action is translated from the database's
    /// clock to the app's (`appNow` is the app's clock when the row was read).
    static func job(_ row: PostgresRandomAccessRow, appNow: Timestamp) throws -> Job {
        var job = Job(
            id: JobID(trusted: try row["id"].decode(String.self)),
            phase: JobPhase(rawValue: try row["phase"].decode(String.self)) ?? .failed,
            model: try row["model"].decode(String.self),
            callbackURLs: decodeStrings(try row["callback_urls"].decode(String.self)),
            metadata: try row["metadata"].decode(String?.self).flatMap { try? JSONParser().parse($0).objectValue },
            acceptedAt: Timestamp(millisecondsSinceEpoch: try row["accepted_at"].decode(Int64.self)),
            sourceName: try row["source_name"].decode(String.self),
            parameters: GenerationParameters(
                resolution: try row["resolution"].decode(String?.self),
                durationSeconds: try row["duration_seconds"].decode(Int?.self)
            )
        )
        job.submitAttempts = try row["submit_attempts"].decode(Int.self)
        job.submitAllowance = try row["submit_allowance"].decode(Int.self)
        job.fence = try row["fence"].decode(Int64.self)
        job.nextActionAt = try row["due_in_ms"].decode(Int64?.self).map { appNow + .milliseconds($0) }
        job.submittedAt = try timestamp(row["submitted_at"])
        job.generationID = try row["generation_id"].decode(String?.self)
        job.upstreamStatus = try row["upstream_status"].decode(String?.self)
        job.polls = try row["polls"].decode(Int.self)
        job.lastRunningAt = try timestamp(row["last_running_at"])
        job.requeuedAt = try timestamp(row["requeued_at"])
        job.consecutivePollFailures = try row["consecutive_poll_failures"].decode(Int.self)
        job.consecutiveNotFound = try row["consecutive_not_found"].decode(Int.self)
        job.finishedAt = try timestamp(row["finished_at"])
        job.videoURL = try row["video_url"].decode(String?.self)
        let credits = try row["credits_used"].decode(String?.self)
        let usd = try row["usd_spent"].decode(String?.self)
        if credits != nil || usd != nil {
            job.usage = Usage(creditsUsed: credits.flatMap(number), usdSpent: usd.flatMap(number))
        }
        if let code = try row["failure_code"].decode(String?.self) {
            job.failure = JobFailure(code: JobFailure.Code(code), message: try row["failure_message"].decode(String?.self) ?? "")
        }
        return job
    }

    static let deliveryColumns =
        "event_id, idx, job_id, url, state, attempts, next_attempt_at, last_attempt_at, last_status, last_error, delivered_at"

    static func delivery(_ row: PostgresRandomAccessRow, fence: Int64 = 0) throws -> Delivery {
        var delivery = Delivery(
            id: Delivery.ID(eventID: try row["event_id"].decode(String.self), index: try row["idx"].decode(Int.self)),
            jobID: JobID(trusted: try row["job_id"].decode(String.self)),
            url: try row["url"].decode(String.self),
            nextAttemptAt: try timestamp(row["next_attempt_at"])
        )
        delivery.state = Delivery.State(rawValue: try row["state"].decode(String.self)) ?? .failed
        delivery.attempts = try row["attempts"].decode(Int.self)
        delivery.lastAttemptAt = try timestamp(row["last_attempt_at"])
        delivery.lastStatusCode = try row["last_status"].decode(Int?.self)
        delivery.lastError = try row["last_error"].decode(String?.self)
        delivery.deliveredAt = try timestamp(row["delivered_at"])
        delivery.fence = fence
        return delivery
    }

    /// An event's deliveries from a JSON array of rows `[idx, url, state, attempts,
    /// next_attempt_at, last_attempt_at, last_status, last_error, delivered_at]` (NULL: none).
    static func deliveries(json: String?, of event: WebhookEvent, fence: Int64) throws -> [Delivery] {
        guard let json else { return [] }
        let malformed = PostgresStoreError.database("the deliveries of event \(event.id) came back malformed")
        guard let rows = try JSONParser().parse(json).arrayValue else { throw malformed }
        return try rows.map { value in
            guard let row = value.arrayValue, row.count == 9,
                let index = row[0].numberValue?.int64Value, let url = row[1].stringValue,
                let state = row[2].stringValue, let attempts = row[3].numberValue?.int64Value
            else { throw malformed }
            func time(_ value: JSONValue) -> Timestamp? {
                value.numberValue?.int64Value.map(Timestamp.init(millisecondsSinceEpoch:))
            }
            var delivery = Delivery(
                id: Delivery.ID(eventID: event.id, index: Int(index)),
                jobID: event.jobID,
                url: url,
                nextAttemptAt: time(row[4])
            )
            delivery.state = Delivery.State(rawValue: state) ?? .failed
            delivery.attempts = Int(attempts)
            delivery.lastAttemptAt = time(row[5])
            delivery.lastStatusCode = row[6].numberValue?.int64Value.map(Int.init)
            delivery.lastError = row[7].stringValue
            delivery.deliveredAt = time(row[8])
            delivery.fence = fence
            return delivery
        }
    }

    static let eventColumns = "id, job_id, type, created_at, body"

    static func event(_ row: PostgresRandomAccessRow) throws -> WebhookEvent {
        let body = try row["body"].decode(ByteBuffer.self)
        return WebhookEvent(
            id: try row["id"].decode(String.self),
            jobID: JobID(trusted: try row["job_id"].decode(String.self)),
            type: WebhookEvent.EventType(description: try row["type"].decode(String.self)),
            createdAt: Timestamp(millisecondsSinceEpoch: try row["created_at"].decode(Int64.self)),
            body: Array(body.readableBytesView)
        )
    }

    static let sourceColumns =
        "id, source_name, source_sha256, source_disposition, source_error_document, source_identity"

    static func source(_ row: PostgresRandomAccessRow) throws -> (jobID: JobID, source: SourceFile) {
        let document = try row["source_error_document"].decode(ByteBuffer?.self)
        return (
            JobID(trusted: try row["id"].decode(String.self)),
            SourceFile(
                name: try row["source_name"].decode(String.self),
                sha256: try row["source_sha256"].decode(String.self),
                disposition: SourceFile.Disposition(rawValue: try row["source_disposition"].decode(String.self)) ?? .remove,
                errorDocument: document.map { Array($0.readableBytesView) },
                identity: try row["source_identity"].decode(String?.self)
            )
        )
    }

    static func timestamp(_ cell: PostgresCell) throws -> Timestamp? {
        try cell.decode(Int64?.self).map(Timestamp.init(millisecondsSinceEpoch:))
    }

    private static func number(_ text: String) -> JSONNumber? {
        try? JSONParser().parse(text).numberValue
    }

    static func encode(_ strings: [String]) -> String {
        encode(.array(strings.map(JSONValue.string)))
    }

    static func encode(_ value: JSONValue) -> String {
        JSONWriter().string(value)
    }

    private static func decodeStrings(_ text: String) -> [String] {
        ((try? JSONParser().parse(text))?.arrayValue ?? []).compactMap(\.stringValue)
    }
}
