import Foundation
import PostgresNIO
public import VideoSpoolCore

/// Instances, leases, claims and releases (WorkOwnership.swift). Every instant is the database's
/// `now()`; durations are intervals, so no host's clock enters a lease predicate.
extension PostgresJobStore {
    public func register(
        _ instance: InstanceDescription,
        replacing previous: InstanceID?
    ) async throws -> InstanceRegistration {
        let t = tables
        let lease = configuration.leaseDuration.wholeMilliseconds
        let previousID = previous.flatMap { UUID(uuidString: $0.rawValue) }
        let (id, replaced) = try await writeTransaction { transaction -> (UUID, [ReleasedInstance]) in
            let id = UUID()
            try await transaction.execute(
                """
                INSERT INTO \(unescaped: t.instances) (id, host, pid, version, spool_id, expires_at)
                VALUES (\(id), \(instance.host), \(Int32(instance.pid)), \(instance.version), \(instance.spoolID),
                    now() + \(lease)::bigint * interval '1 millisecond')
                """
            )
            guard let previousID else { return (id, []) }
            // The caller holds the state directory's lock, so that run is dead: its jobs are free
            // at once. (No submit grace: a dead process records no late generation id.)
            let rows = try await transaction.rows(
                """
                WITH dead AS (DELETE FROM \(unescaped: t.instances) WHERE id = \(previousID) RETURNING id, host, pid),
                released AS (
                    UPDATE \(unescaped: t.jobs) j SET owner = NULL, fence = j.fence + 1, claimed_at = NULL
                    FROM dead WHERE j.owner = dead.id
                    RETURNING j.id)
                SELECT host, pid, (SELECT count(*) FROM released) AS jobs FROM dead
                """
            )
            let replaced = try rows.map { row in
                ReleasedInstance(
                    id: previous!,
                    host: try row["host"].decode(String.self),
                    pid: try row["pid"].decode(Int32.self),
                    jobs: try row["jobs"].decode(Int.self)
                )
            }
            if replaced.contains(where: { $0.jobs > 0 }) { try await transaction.notify() }
            return (id, replaced)
        }
        setMe(id, spoolID: instance.spoolID)
        logger.info(
            "Registered with the shared job store",
            metadata: [
                "event": "store.registered", "instance.id": "\(id.uuidString.lowercased())",
                "store.lease_seconds": "\(configuration.leaseDuration.secondsDouble)",
            ]
        )
        return InstanceRegistration(
            id: InstanceID(id.uuidString.lowercased()),
            leaseDuration: configuration.leaseDuration,
            replaced: replaced
        )
    }

    /// Renews the lease on the dedicated lease connection (never waiting for the pool). A
    /// connection failure is thrown, not `.lost`: the lease may well still be running.
    public func renewLease() async throws -> LeaseRenewal {
        let me = try requireMe()
        let t = tables
        let lease = configuration.leaseDuration
        let renewed = try await onLeaseConnection { connection in
            try await connection.openExecute(
                """
                UPDATE \(unescaped: t.instances) SET heartbeat_at = now(),
                    expires_at = now() + \(lease.wholeMilliseconds)::bigint * interval '1 millisecond'
                WHERE id = \(me)
                """,
                logger: logger
            )
        }
        return renewed == 1 ? .renewed(duration: lease) : .lost
    }

    public func releaseExpiredInstances() async throws -> [ReleasedInstance] {
        let t = tables
        let grace = configuration.submitGrace.wholeMilliseconds
        return try await writeTransaction { transaction in
            // Leaderless: whoever comes first does the round; the others skip it.
            guard try await transaction.value("SELECT pg_try_advisory_xact_lock(hashtext(\(t.reaperLock)))", as: Bool.self)
                == true
            else { return [] }
            let rows = try await transaction.rows(
                """
                WITH dead AS (DELETE FROM \(unescaped: t.instances) WHERE expires_at < now() RETURNING id, host, pid),
                released AS (
                    UPDATE \(unescaped: t.jobs) j SET owner = NULL, fence = j.fence + 1, claimed_at = NULL,
                        run_after = CASE WHEN j.phase = 'submitting'
                            THEN now() + \(grace)::bigint * interval '1 millisecond' ELSE j.run_after END
                    FROM dead WHERE j.owner = dead.id
                    RETURNING dead.id AS instance)
                SELECT d.id, d.host, d.pid, (SELECT count(*) FROM released r WHERE r.instance = d.id) AS jobs
                FROM dead d
                """
            )
            let released = try rows.map { row in
                ReleasedInstance(
                    id: InstanceID(try row["id"].decode(UUID.self).uuidString.lowercased()),
                    host: try row["host"].decode(String.self),
                    pid: try row["pid"].decode(Int32.self),
                    jobs: try row["jobs"].decode(Int.self)
                )
            }
            // Jobs held by an instance that is gone without having expired here: one that was
            // reaped while it inserted a job (its insert raced the reaper). Nobody could ever
            // release them otherwise.
            let orphans = try await transaction.execute(
                """
                UPDATE \(unescaped: t.jobs) j SET owner = NULL, fence = j.fence + 1, claimed_at = NULL,
                    run_after = CASE WHEN j.phase = 'submitting'
                        THEN now() + \(grace)::bigint * interval '1 millisecond' ELSE j.run_after END
                WHERE j.owner IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM \(unescaped: t.instances) i WHERE i.id = j.owner)
                """
            )
            if orphans > 0 || released.contains(where: { $0.jobs > 0 }) { try await transaction.notify() }
            return released
        }
    }

    public func claimReleasedWork(_ limits: ClaimLimits) async throws -> RecoveredState {
        try await claimRound(limits).state
    }

    /// One claim: what the port returns, and every job taken (finished ones too) with its place
    /// in the arrival order.
    struct ClaimRound: Sendable {
        var state: RecoveredState
        var claimed: [(seq: Int64, job: Job)]
    }

    func claimRound(_ limits: ClaimLimits) async throws -> ClaimRound {
        let me = try requireMe()
        let spoolID = try requireSpoolID()
        let t = tables
        let queued = Int64(max(0, limits.queued))
        let others = Int64(max(0, limits.others))
        let terminal = PostgresSchema.terminalPhases
        return try await writeTransaction { transaction in
            var state = RecoveredState()
            // Only a live instance takes work: one whose lease ran out would take jobs under an
            // identity nobody can release any more. FOR SHARE keeps a reaper from deleting it
            // until this claim has committed.
            guard try await !transaction.rows(
                """
                SELECT 1 FROM \(unescaped: t.instances) WHERE id = \(me) AND expires_at > now() FOR SHARE
                """
            ).isEmpty
            else { return ClaimRound(state: state, claimed: []) }
            // Each kind through its partial index, oldest first; rows another daemon is claiming
            // right now are skipped, not waited for.
            let claimed = try await transaction.rows(
                """
                WITH q AS MATERIALIZED (
                    SELECT id FROM \(unescaped: t.jobs)
                    WHERE owner IS NULL AND phase = 'queued' AND (run_after IS NULL OR run_after <= now())
                    ORDER BY seq LIMIT \(queued) FOR UPDATE SKIP LOCKED),
                a AS MATERIALIZED (
                    SELECT id FROM \(unescaped: t.jobs)
                    WHERE owner IS NULL AND phase IN ('submitting', 'generating', 'storing')
                        AND (run_after IS NULL OR run_after <= now())
                    ORDER BY seq LIMIT \(others) FOR UPDATE SKIP LOCKED),
                f AS MATERIALIZED (
                    SELECT id FROM \(unescaped: t.jobs)
                    WHERE owner IS NULL AND pending_deliveries > 0 AND phase IN \(unescaped: terminal)
                    ORDER BY seq LIMIT \(others) FOR UPDATE SKIP LOCKED)
                UPDATE \(unescaped: t.jobs) j SET owner = \(me), fence = j.fence + 1, claimed_at = now()
                WHERE j.id IN (SELECT id FROM q UNION ALL SELECT id FROM a UNION ALL SELECT id FROM f)
                RETURNING \(unescaped: Rows.jobColumns("j"))
                """
            )
            var fences: [String: Int64] = [:]
            var jobs: [(seq: Int64, job: Job)] = []
            for row in claimed {
                let job = try Rows.job(row, appNow: transaction.appNow)
                fences[job.id.rawValue] = job.fence
                jobs.append((try row["seq"].decode(Int64.self), job))
            }
            state.activeJobs = jobs.sorted { $0.seq < $1.seq }.map(\.job).filter { !$0.phase.isTerminal }
            if !fences.isEmpty {
                state.pendingDeliveries = try await transaction.rows(
                    """
                    SELECT \(unescaped: Rows.deliveryColumns) FROM \(unescaped: t.deliveries)
                    WHERE job_id = ANY(\(Array(fences.keys))) AND state = 'pending'
                    ORDER BY event_id, idx
                    """
                ).map { row in
                    let jobID = try row["job_id"].decode(String.self)
                    return try Rows.delivery(row, fence: fences[jobID] ?? 0)
                }
            }
            // A finished job an operator command took and left as it was: nobody needs to hold it.
            try await transaction.execute(
                """
                UPDATE \(unescaped: t.jobs) SET owner = NULL, fence = fence + 1, claimed_at = NULL
                WHERE owner = \(me) AND pending_deliveries = 0 AND phase IN \(unescaped: terminal)
                    AND claimed_at < now() - interval '1 minute'
                """
            )
            state.cancelRequests = try await transaction.rows(
                """
                UPDATE \(unescaped: t.jobs) SET cancel_requested_at = NULL
                WHERE owner = \(me) AND cancel_requested_at IS NOT NULL
                RETURNING id
                """
            ).map { JobID(trusted: try $0["id"].decode(String.self)) }
            try await self.collectSpoolDebts(into: &state, spoolID: spoolID, transaction: transaction)
            return ClaimRound(state: state, claimed: jobs)
        }
    }

    /// What this daemon's spool directory is owed, whoever holds the jobs: outcome files out of
    /// date and spool files not yet removed.
    func collectSpoolDebts(into state: inout RecoveredState, spoolID: String, transaction: StoreTransaction) async throws {
        let t = tables
        state.staleOutcomes = try await transaction.rows(
            """
            SELECT id FROM \(unescaped: t.jobs)
            WHERE spool_id = \(spoolID) AND outcome_version > outcome_written_version
                AND phase IN ('completed', 'failed', 'canceled')
            ORDER BY seq
            """
        ).map { JobID(trusted: try $0["id"].decode(String.self)) }
        state.unsettledSources = try await transaction.rows(
            """
            SELECT \(unescaped: Rows.sourceColumns) FROM \(unescaped: t.jobs)
            WHERE spool_id = \(spoolID) AND NOT source_settled
            ORDER BY seq
            """
        ).map(Rows.source)
    }

    public func claimJob(_ id: JobID) async throws -> JobClaim {
        let me = try requireMe()
        let t = tables
        return try await writeTransaction { transaction in
            // As for claims: only a live instance takes a job.
            guard try await !transaction.rows(
                """
                SELECT 1 FROM \(unescaped: t.instances) WHERE id = \(me) AND expires_at > now() FOR SHARE
                """
            ).isEmpty
            else { throw LeaseLost(jobs: [id]) }
            guard
                let row = try await transaction.rows(
                    """
                    SELECT j.owner, i.id IS NOT NULL AND i.expires_at >= now() AS alive, i.host, i.pid, i.version,
                        i.spool_id
                    FROM \(unescaped: t.jobs) j LEFT JOIN \(unescaped: t.instances) i ON i.id = j.owner
                    WHERE j.id = \(id.rawValue)
                    FOR UPDATE OF j
                    """
                ).first
            else { return .notFound }
            let owner = try row["owner"].decode(UUID?.self)
            let columns = Rows.jobColumns()
            if let owner, owner != me, try row["alive"].decode(Bool?.self) == true {
                let job = try await transaction.rows(
                    "SELECT \(unescaped: columns) FROM \(unescaped: t.jobs) WHERE id = \(id.rawValue)"
                ).first.map { try Rows.job($0, appNow: transaction.appNow) }
                guard let job else { return .notFound }
                let holder = InstanceDescription(
                    host: try row["host"].decode(String?.self) ?? "",
                    pid: try row["pid"].decode(Int32?.self) ?? 0,
                    version: try row["version"].decode(String?.self) ?? "",
                    spoolID: try row["spool_id"].decode(String?.self) ?? ""
                )
                return .heldElsewhere(job, by: holder)
            }
            let jobRow: PostgresRandomAccessRow?
            let newlyClaimed = owner != me
            if owner == me {
                jobRow = try await transaction.rows(
                    "SELECT \(unescaped: columns) FROM \(unescaped: t.jobs) WHERE id = \(id.rawValue)"
                ).first
            } else {
                jobRow = try await transaction.rows(
                    """
                    UPDATE \(unescaped: t.jobs) SET owner = \(me), fence = fence + 1, claimed_at = now()
                    WHERE id = \(id.rawValue)
                    RETURNING \(unescaped: columns)
                    """
                ).first
            }
            guard let jobRow else { return .notFound }
            let job = try Rows.job(jobRow, appNow: transaction.appNow)
            let deliveries = try await transaction.rows(
                """
                SELECT \(unescaped: Rows.deliveryColumns) FROM \(unescaped: t.deliveries)
                WHERE job_id = \(id.rawValue) AND state = 'pending'
                ORDER BY event_id, idx
                """
            ).map { try Rows.delivery($0, fence: job.fence) }
            return .held(job, pendingDeliveries: deliveries, newlyClaimed: newlyClaimed)
        }
    }

    public func releaseOwnership() async throws {
        guard let me else { return }
        let t = tables
        let grace = configuration.submitGrace.wholeMilliseconds
        try await writeTransaction { transaction in
            // The runtime lets every POST finish before it stops; a job left in `submitting` all
            // the same waits out the grace, as if its owner had died.
            let released = try await transaction.execute(
                """
                UPDATE \(unescaped: t.jobs) SET owner = NULL, fence = fence + 1, claimed_at = NULL,
                    run_after = CASE WHEN phase = 'submitting'
                        THEN now() + \(grace)::bigint * interval '1 millisecond' ELSE run_after END
                WHERE owner = \(me)
                """
            )
            try await transaction.execute("DELETE FROM \(unescaped: t.instances) WHERE id = \(me)")
            if released > 0 { try await transaction.notify() }
        }
        setMe(nil, spoolID: nil)
        logger.info(
            "Gave back every job and left the shared job store",
            metadata: ["event": "store.released", "instance.id": "\(me.uuidString.lowercased())"]
        )
    }
}
