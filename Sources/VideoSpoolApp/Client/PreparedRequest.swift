public import VideoSpoolCore

/// A request checked by the daemon's own rules and given the `job_id` the daemon will use, ready to
/// be published into `incoming/`.
public struct PreparedRequest: Sendable {
    public let jobID: JobID
    /// The file to write: the caller's document, with `job_id` inserted when it had none.
    public let bytes: [UInt8]
    /// Whether `jobID` was assigned here rather than given by the caller.
    public let assignedID: Bool

    /// Validates `bytes` as the daemon would (size limit included) and, when the request names no
    /// `job_id`, inserts `newID()` so that the id printed is the id the daemon uses.
    ///
    /// - Returns: the prepared request, or the rejection the daemon would have made.
    public static func prepare(
        _ bytes: [UInt8],
        validator: RequestValidator,
        maximumBytes: Int,
        newID: () -> JobID
    ) -> Outcome {
        if let tooLarge = sizeIssue(bytes.count, maximumBytes: maximumBytes) {
            return .refused(RejectedRequest(issues: [tooLarge]))
        }
        let validated: ValidatedRequest
        switch validator.validate(bytes) {
        case .invalid(let rejected): return .refused(rejected)
        case .valid(let request): validated = request
        }
        if let id = validated.requestedJobID {
            return .ready(PreparedRequest(jobID: id, bytes: bytes, assignedID: false))
        }
        let id = newID()
        let rewritten = insertingJobID(id, into: bytes)
        // Check the file as written: the daemon must see exactly this id, and nothing else changed.
        guard case .valid(let check) = validator.validate(rewritten), check.requestedJobID == id else {
            preconditionFailure("Invalid state: inserting job_id made a valid request invalid")
        }
        if let tooLarge = sizeIssue(rewritten.count, maximumBytes: maximumBytes) {
            return .refused(RejectedRequest(issues: [tooLarge]))
        }
        return .ready(PreparedRequest(jobID: id, bytes: rewritten, assignedID: true))
    }

    public enum Outcome: Sendable {
        case ready(PreparedRequest)
        /// What the daemon would have rejected, and why.
        case refused(RejectedRequest)
    }

    /// Inserts `"job_id"` as the first member, leaving every other byte as the caller wrote it;
    /// a `"job_id": null` member (null counts as absent) is replaced by re-serializing instead.
    static func insertingJobID(_ id: JobID, into bytes: [UInt8]) -> [UInt8] {
        guard case .object(var object)? = try? JSONParser().parse(bytes) else { return bytes }
        if object["job_id"] != nil {
            object["job_id"] = .string(id.rawValue)
            return JSONWriter(pretty: true).bytes(.object(object)) + [0x0A]
        }
        guard let brace = bytes.firstIndex(of: UInt8(ascii: "{")) else { return bytes }
        let member = JSONWriter().bytes(.string("job_id")) + Array(": ".utf8)
            + JSONWriter().bytes(.string(id.rawValue)) + Array(", ".utf8)
        var result = bytes
        result.insert(contentsOf: member, at: brace + 1)
        return result
    }

    private static func sizeIssue(_ size: Int, maximumBytes: Int) -> ValidationIssue? {
        guard size > maximumBytes else { return nil }
        return ValidationIssue(
            field: nil,
            code: .tooLarge,
            message: "the request is \(size) bytes; spool.max_request_bytes allows \(maximumBytes)"
        )
    }
}
