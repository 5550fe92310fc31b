import Foundation
import VideoSpoolCore
public import VideoSpoolRuntime

/// One request on the control socket: a JSON object on one line; the daemon answers with one
/// ``ControlResponse`` line and closes the connection. A request that asks for `progress` first
/// gets ``ControlUpdate`` lines while the work goes on (at least every
/// ``ControlService/defaultProgressInterval``, so a client can tell a daemon at work from a dead one however
/// long the work takes), then the response.
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
    /// Send ``ControlUpdate`` lines before the response (a daemon that predates them ignores this).
    public var progress: Bool?
    /// `prune`: the ids of the deleted jobs, in the updates (the response only counts them).
    public var ids: Bool?

    public init(
        command: Command,
        jobID: String? = nil,
        url: String? = nil,
        failedSince: Int64? = nil,
        endedBefore: Int64? = nil,
        progress: Bool? = nil,
        ids: Bool? = nil
    ) {
        self.command = command
        self.jobID = jobID
        self.url = url
        self.failedSince = failedSince
        self.endedBefore = endedBefore
        self.progress = progress
        self.ids = ids
    }

    enum CodingKeys: String, CodingKey {
        case command, url, progress, ids
        case jobID = "job_id"
        case failedSince = "failed_since_ms"
        case endedBefore = "ended_before_ms"
    }

    /// Carries the request out; a refusal or failure becomes a response with `ok: false`.
    /// `updates` hears how far a long operation has got (a prune's batches, with their ids when
    /// the request asked for ``ids``).
    public func perform(
        with control: JobControl,
        updates: (@Sendable (ControlUpdate) async -> Void)? = nil
    ) async -> ControlResponse {
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
                let withIDs = ids == true
                result = try await control.prune(before: Timestamp(millisecondsSinceEpoch: endedBefore)) { batch, total in
                    await updates?(ControlUpdate(done: total, ids: withIDs ? batch.map(\.rawValue) : nil))
                }
            }
            return ControlResponse(
                ok: result.complete,
                message: result.message,
                jobs: result.jobs,
                deliveries: result.deliveries,
                pruned: result.pruned
            )
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
    /// `prune`: how many jobs it deleted.
    public var pruned: Int?
    /// `daemon` when the running daemon carried it out, `store` when the CLI did, on the store of
    /// a stopped daemon. Set by the client.
    public var via: String?

    public init(ok: Bool, message: String, jobs: [String] = [], deliveries: Int = 0, pruned: Int? = nil, via: String? = nil) {
        self.ok = ok
        self.message = message
        self.jobs = jobs
        self.deliveries = deliveries
        self.pruned = pruned
        self.via = via
    }
}

/// How far a long operation has got: a line `{"update": {...}}` before the response.
public struct ControlUpdate: Codable, Sendable, Hashable {
    /// Units of work done so far (jobs deleted, for a prune; 0 for work that is not counted).
    public var done: Int
    /// `prune --ids`: the jobs deleted since the previous update.
    public var ids: [String]?

    public init(done: Int, ids: [String]? = nil) {
        self.done = done
        self.ids = ids
    }

    /// The line as it goes on the socket.
    struct Line: Codable {
        var update: ControlUpdate
    }
}
