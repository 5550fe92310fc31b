/// Who acts on which job when several daemons share one store.
///
/// Every running daemon registers an *instance* and keeps its lease alive with heartbeats. A job
/// row names its owner and carries a *fence*, a number the store raises every time the job changes
/// hands. The owner holds each job under the fence it was given (``Job/fence``), and every write
/// that drives an action (``StoreChange/updateJob(_:)``, ``StoreChange/updateDelivery(_:)``, the
/// terminal event) names that fence: once the job has moved on, the write affects nothing and the
/// store throws ``LeaseLost``. A job whose owner's lease ran out is released by whichever daemon
/// notices first and claimed by whichever has room.
///
/// With one daemon (SQLite) there is a single owner whose lease never ends, fences never change
/// and nothing is ever released, so the pipeline runs the same code on both backends.
public struct InstanceID: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}

/// What a daemon says about itself when it registers.
public struct InstanceDescription: Sendable, Hashable {
    public var host: String
    public var pid: Int32
    public var version: String
    /// The spool this daemon watches (the id in its `.videospool-id` file): daemons sharing one
    /// spool directory share it. Spool files and outcome files belong to a spool, not to an owner.
    public var spoolID: String

    public init(host: String, pid: Int32, version: String, spoolID: String) {
        self.host = host
        self.pid = pid
        self.version = version
        self.spoolID = spoolID
    }
}

/// A daemon's registration: its identity and how often it must renew its lease.
public struct InstanceRegistration: Sendable, Hashable {
    public var id: InstanceID
    /// How long the store keeps the lease after a renewal; `nil` when it never ends (one owner).
    public var leaseDuration: Duration?
    /// Instances released because this one replaced them (an earlier run of the same daemon).
    public var replaced: [ReleasedInstance]

    public init(id: InstanceID, leaseDuration: Duration?, replaced: [ReleasedInstance] = []) {
        self.id = id
        self.leaseDuration = leaseDuration
        self.replaced = replaced
    }
}

/// The answer to a lease renewal.
public enum LeaseRenewal: Sendable, Hashable {
    /// The lease runs for `duration` from the moment the renewal was sent.
    case renewed(duration: Duration)
    /// The store no longer knows this instance (its lease ran out and it was released): every job
    /// it held has moved on. Register again before acting.
    case lost
}

/// An instance whose jobs were released, and how many.
public struct ReleasedInstance: Sendable, Hashable {
    public var id: InstanceID
    public var host: String
    public var pid: Int32
    public var jobs: Int

    public init(id: InstanceID, host: String, pid: Int32, jobs: Int) {
        self.id = id
        self.host = host
        self.pid = pid
        self.jobs = jobs
    }
}

/// How much released work a daemon takes in one claim.
public struct ClaimLimits: Sendable, Hashable {
    /// Queued jobs to take (room in the submission queue).
    public var queued: Int
    /// Jobs of any other kind (generating, or finished with webhooks pending).
    public var others: Int

    public init(queued: Int, others: Int) {
        self.queued = queued
        self.others = others
    }
}

/// A write that named a fence the job no longer has: another daemon holds the job now (or this
/// daemon's lease ran out). Nothing of the transaction was applied.
public struct LeaseLost: Error, Sendable, Hashable, CustomStringConvertible {
    /// The jobs whose fenced writes failed.
    public var jobs: [JobID]

    public init(jobs: [JobID]) {
        self.jobs = jobs
    }

    public var description: String {
        "the lease on \(jobs.map(\.rawValue).joined(separator: ", ")) was lost; another daemon holds the job now"
    }
}

/// What an operator command finds when it asks for a job that may belong to another daemon.
public enum JobClaim: Sendable {
    /// This daemon holds the job now, with its pending deliveries: it was already its own, or it
    /// was free and was just taken (`newlyClaimed`: the pipeline does not know it yet).
    case held(Job, pendingDeliveries: [Delivery], newlyClaimed: Bool)
    /// Another live daemon holds it.
    case heldElsewhere(Job, by: InstanceDescription)
    case notFound
}
