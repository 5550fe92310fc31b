/// The `done/<job_id>.json` or `failed/<job_id>.json` file: the webhook document plus where each
/// callback's delivery stands, for callers who collect results from disk.
public enum OutcomeDocument {
    public static func render(eventBody: [UInt8], deliveries: [Delivery]) -> [UInt8] {
        var document = (try? JSONParser().parse(eventBody))?.objectValue ?? JSONObject()
        document["deliveries"] = .array(deliveries.sorted { $0.id.index < $1.id.index }.map(json))
        return JSONWriter(pretty: true).bytes(.object(document))
    }

    static func json(_ delivery: Delivery) -> JSONValue {
        .object(
            JSONObject([
                "url": .string(HTTPURL.redacting(delivery.url)),
                "state": .string(delivery.state.rawValue),
                "attempts": .int(Int64(delivery.attempts)),
                "last_status": delivery.lastStatusCode.map { .int(Int64($0)) } ?? .null,
                "last_error": .optional(delivery.lastError),
                "last_attempt_at": .optional(delivery.lastAttemptAt?.iso8601),
                "next_attempt_at": .optional(delivery.nextAttemptAt?.iso8601),
                "delivered_at": .optional(delivery.deliveredAt?.iso8601),
            ])
        )
    }

    /// The `rejected/<name>.error.json` file.
    public static func rejection(
        _ request: RejectedRequest,
        jobID: JobID?,
        sourceName: String,
        now: Timestamp
    ) -> [UInt8] {
        let document = JSONValue.object(
            JSONObject([
                "file": .string(sourceName),
                "job_id": .optional(jobID?.rawValue),
                "rejected_at": .string(now.iso8601),
                "errors": .array(request.issues.map(\.json)),
            ])
        )
        return JSONWriter(pretty: true).bytes(document)
    }
}
