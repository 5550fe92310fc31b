import Foundation
import VideoSpoolCore
public import VideoSpoolRuntime

/// One request on the control socket: a JSON object on one line; the daemon answers with one
/// ``ControlResponse`` line and closes the connection.
public struct ControlRequest: Codable, Sendable, Hashable {
    public enum Command: String, Codable, Sendable {
        case cancel, retry, redeliver, prune
    }

    public var command: Command
    public var jobID: String?
    /// `redeliver`: only this URL.
    public var url: String?
    /// `redeliver --failed-since`: milliseconds since the epoch.
    public var failedSince: Int64?
    /// `prune`: jobs that ended before this time (milliseconds since the epoch).
    public var endedBefore: Int64?

    public init(command: Command, jobID: String? = nil, url: String? = nil, failedSince: Int64? = nil, endedBefore: Int64? = nil) {
        self.command = command
        self.jobID = jobID
        self.url = url
        self.failedSince = failedSince
        self.endedBefore = endedBefore
    }

    enum CodingKeys: String, CodingKey {
        case command, url
        case jobID = "job_id"
        case failedSince = "failed_since_ms"
        case endedBefore = "ended_before_ms"
    }

    /// Carries the request out; a refusal or failure becomes a response with `ok: false`.
    public func perform(with control: JobControl) async -> ControlResponse {
        do {
            let result: JobControl.Result
            switch command {
            case .cancel: result = try await control.cancel(try requireJobID())
            case .retry: result = try await control.retry(try requireJobID())
            case .redeliver:
                if let failedSince {
                    result = try await control.redeliverFailed(since: Timestamp(millisecondsSinceEpoch: failedSince))
                } else {
                    result = try await control.redeliver(try requireJobID(), url: url)
                }
            case .prune:
                guard let endedBefore else { throw OperatorRefusal("prune needs ended_before_ms") }
                result = try await control.prune(before: Timestamp(millisecondsSinceEpoch: endedBefore))
            }
            return ControlResponse(ok: result.complete, message: result.message, jobs: result.jobs, deliveries: result.deliveries)
        } catch is CancellationError {
            return ControlResponse(ok: false, message: "interrupted: the daemon is stopping; run the command again when it is back")
        } catch {
            return ControlResponse(ok: false, message: "\(error)")
        }
    }

    private func requireJobID() throws -> JobID {
        guard let jobID, let id = JobID(jobID) else {
            throw OperatorRefusal("'\(jobID ?? "")' is not a job id")
        }
        return id
    }
}

/// The answer to a ``ControlRequest``.
public struct ControlResponse: Codable, Sendable, Hashable {
    public var ok: Bool
    public var message: String
    public var jobs: [String]
    public var deliveries: Int
    /// `daemon` when the running daemon carried it out, `store` when the CLI did, on the store of
    /// a stopped daemon. Set by the client.
    public var via: String?

    public init(ok: Bool, message: String, jobs: [String] = [], deliveries: Int = 0, via: String? = nil) {
        self.ok = ok
        self.message = message
        self.jobs = jobs
        self.deliveries = deliveries
        self.via = via
    }
}
