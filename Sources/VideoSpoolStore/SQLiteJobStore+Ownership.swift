import GRDB
public import VideoSpoolCore

/// One daemon owns an SQLite store (the state directory's lock sees to it), so ownership is
/// trivial: one instance whose lease never ends, nothing ever released or claimed, fences never
/// checked. The pipeline runs the same code as on a shared store.
extension SQLiteJobStore {
    public static let soleInstance = InstanceID("local")

    public func register(
        _ instance: InstanceDescription,
        replacing previous: InstanceID?
    ) async throws -> InstanceRegistration {
        InstanceRegistration(id: Self.soleInstance, leaseDuration: nil)
    }

    public func renewLease() async throws -> LeaseRenewal {
        .renewed(duration: .seconds(365 * 86_400))
    }

    public func releaseExpiredInstances() async throws -> [ReleasedInstance] { [] }

    public func claimReleasedWork(_ limits: ClaimLimits) async throws -> RecoveredState { RecoveredState() }

    public func claimJob(_ id: JobID) async throws -> JobClaim {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id.rawValue])
            else { return .notFound }
            let deliveries = try Row.fetchAll(
                db,
                sql: "SELECT * FROM deliveries WHERE job_id = ? AND state = 'pending'",
                arguments: [id.rawValue]
            ).map(Self.delivery)
            return .held(Self.job(row), pendingDeliveries: deliveries, newlyClaimed: false)
        }
    }

    public func releaseOwnership() async throws {}

    /// One daemon per spool (its lock), so no other daemon takes a file.
    public func jobTaken(fromSource identity: String) async throws -> JobID? { nil }

    public func workAnnouncements() -> AsyncStream<Void> {
        AsyncStream { $0.finish() }
    }
}
