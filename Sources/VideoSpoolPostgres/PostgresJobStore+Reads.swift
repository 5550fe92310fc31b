import NIOCore
import PostgresNIO
public import VideoSpoolCore

/// The port's reads, with SQLiteJobStore's results.
extension PostgresJobStore {
    /// At start, after ``register(_:replacing:)``: what ``claimReleasedWork(_:)`` returns without
    /// limits (every job nobody holds that is due), plus the finished counts (kept in a small table
    /// by a trigger, so nothing counts the jobs table). Claimed in rounds of a thousand of each
    /// kind, so that no statement of a large backlog runs into the statement timeout.
    public func recover() async throws -> RecoveredState {
        var claimed: [(seq: Int64, job: Job)] = []
        var deliveries: [Delivery] = []
        var cancels: [JobID] = []
        var state: RecoveredState
        while true {
            let round = try await claimRound(ClaimLimits(queued: 1000, others: 1000))
            claimed += round.claimed
            deliveries += round.state.pendingDeliveries
            cancels += round.state.cancelRequests
            state = round.state
            if round.claimed.isEmpty { break }
        }
        state.activeJobs = claimed.sorted { $0.seq < $1.seq }.map(\.job).filter { !$0.phase.isTerminal }
        state.pendingDeliveries = deliveries.sorted {
            ($0.id.eventID, $0.id.index) < ($1.id.eventID, $1.id.index)
        }
        state.cancelRequests = cancels
        let t = tables
        state.finishedCounts = try await read { transaction in
            var counts: [JobPhase: Int] = [:]
            for row in try await transaction.rows(
                "SELECT phase, sum(n)::bigint AS n FROM \(unescaped: t.counts) GROUP BY phase HAVING sum(n) <> 0"
            ) {
                if let phase = JobPhase(rawValue: try row["phase"].decode(String.self)) {
                    counts[phase] = try row["n"].decode(Int.self)
                }
            }
            return counts
        }
        return state
    }

    public func containsJob(_ id: JobID) async throws -> Bool {
        let t = tables
        return try await read { transaction in
            try await transaction.value("SELECT 1 FROM \(unescaped: t.jobs) WHERE id = \(id.rawValue)", as: Int32.self) != nil
        }
    }

    public func job(_ id: JobID) async throws -> Job? {
        let t = tables
        return try await read { transaction in
            try await transaction.rows(
                "SELECT \(unescaped: Rows.jobColumns()) FROM \(unescaped: t.jobs) WHERE id = \(id.rawValue)"
            ).first.map { try Rows.job($0, appNow: transaction.appNow) }
        }
    }

    public func jobAccepted(fromFileWithSHA256 sha256: String, since: Timestamp) async throws -> (JobID, Timestamp)? {
        let t = tables
        let found = try await read { transaction -> (String, Int64)? in
            try await transaction.rows(
                """
                SELECT id, accepted_at FROM \(unescaped: t.jobs)
                WHERE source_sha256 = \(sha256) AND accepted_at >= \(since.millisecondsSinceEpoch) AND phase <> 'rejected'
                ORDER BY accepted_at DESC LIMIT 1
                """
            ).first.map { (try $0["id"].decode(String.self), try $0["accepted_at"].decode(Int64.self)) }
        }
        return found.map { (JobID(trusted: $0.0), Timestamp(millisecondsSinceEpoch: $0.1)) }
    }

    public func requestBody(for id: JobID) async throws -> [UInt8]? {
        let t = tables
        return try await read { transaction in
            try await transaction.value(
                "SELECT body FROM \(unescaped: t.requests) WHERE job_id = \(id.rawValue)",
                as: ByteBuffer.self
            ).map { Array($0.readableBytesView) }
        }
    }

    public func event(id: String) async throws -> WebhookEvent? {
        let t = tables
        return try await read { transaction in
            try await transaction.rows(
                "SELECT \(unescaped: Rows.eventColumns) FROM \(unescaped: t.events) WHERE id = \(id)"
            ).first.map(Rows.event)
        }
    }

    /// Both intake lookups for a group of files with one statement.
    public func intakeFacts(
        identities: [String],
        sha256s: [String],
        jobIDs: [JobID],
        acceptedSince since: Timestamp
    ) async throws -> IntakeFacts {
        let t = tables
        let spoolID = try requireSpoolID()
        return try await read { transaction in
            var facts = IntakeFacts()
            let rows = try await transaction.rows(
                """
                (SELECT 'taken' AS fact, source_identity AS key, id, NULL::bigint AS accepted_at FROM \(unescaped: t.jobs)
                    WHERE spool_id = \(spoolID) AND source_identity = ANY(\(identities)))
                UNION ALL
                (SELECT DISTINCT ON (source_sha256) 'accepted', source_sha256, id, accepted_at FROM \(unescaped: t.jobs)
                    WHERE source_sha256 = ANY(\(sha256s)) AND accepted_at >= \(since.millisecondsSinceEpoch)
                        AND phase <> 'rejected'
                    ORDER BY source_sha256, accepted_at DESC)
                UNION ALL
                (SELECT 'existing', id, id, NULL FROM \(unescaped: t.jobs) WHERE id = ANY(\(jobIDs.map(\.rawValue))))
                """
            )
            for row in rows {
                let key = try row["key"].decode(String.self)
                let id = JobID(trusted: try row["id"].decode(String.self))
                switch try row["fact"].decode(String.self) {
                case "taken": facts.taken[key] = id
                case "accepted":
                    let at = Timestamp(millisecondsSinceEpoch: try row["accepted_at"].decode(Int64.self))
                    facts.accepted[key] = IntakeFacts.Accepted(jobID: id, at: at)
                default: facts.existing.insert(id)
                }
            }
            return facts
        }
    }

    public func jobTaken(fromSource identity: String) async throws -> JobID? {
        let t = tables
        let spoolID = try requireSpoolID()
        return try await read { transaction in
            try await transaction.rows(
                "SELECT id FROM \(unescaped: t.jobs) WHERE spool_id = \(spoolID) AND source_identity = \(identity)"
            ).first.map { JobID(trusted: try $0["id"].decode(String.self)) }
        }
    }

    public func outcome(for id: JobID) async throws -> OutcomeSnapshot? {
        let t = tables
        return try await read { transaction in
            guard
                let jobRow = try await transaction.rows(
                    """
                    SELECT \(unescaped: Rows.jobColumns()), outcome_version, spool_id FROM \(unescaped: t.jobs)
                    WHERE id = \(id.rawValue)
                    """
                ).first,
                let eventRow = try await transaction.rows(
                    """
                    SELECT \(unescaped: Rows.eventColumns) FROM \(unescaped: t.events) WHERE job_id = \(id.rawValue)
                    ORDER BY created_at DESC LIMIT 1
                    """
                ).first
            else { return nil }
            let job = try Rows.job(jobRow, appNow: transaction.appNow)
            let event = try Rows.event(eventRow)
            let deliveries = try await transaction.rows(
                """
                SELECT \(unescaped: Rows.deliveryColumns) FROM \(unescaped: t.deliveries)
                WHERE event_id = \(event.id) ORDER BY idx
                """
            ).map { try Rows.delivery($0, fence: job.fence) }
            return OutcomeSnapshot(
                job: job,
                event: event,
                deliveries: deliveries,
                version: try jobRow["outcome_version"].decode(Int.self),
                spoolID: try jobRow["spool_id"].decode(String?.self)
            )
        }
    }

    /// One statement for the whole batch: each job with its latest event and that event's
    /// deliveries (as one JSON array), all from one snapshot. The outcome writer reads a batch
    /// whenever commits leave files out of date, so in a burst this runs hundreds of times.
    public func outcomes(for ids: [JobID]) async throws -> [JobID: OutcomeSnapshot] {
        guard !ids.isEmpty else { return [:] }
        let t = tables
        let keys = ids.map(\.rawValue)
        return try await read { transaction in
            var snapshots: [JobID: OutcomeSnapshot] = [:]
            for row in try await transaction.rows(
                """
                SELECT \(unescaped: Rows.jobColumns("j")), j.outcome_version, j.spool_id,
                    e.id AS event_id, e.type AS event_type, e.created_at AS event_created_at, e.body AS event_body,
                    (SELECT json_agg(json_build_array(d.idx, d.url, d.state, d.attempts, d.next_attempt_at,
                            d.last_attempt_at, d.last_status, d.last_error, d.delivered_at) ORDER BY d.idx)
                        FROM \(unescaped: t.deliveries) d WHERE d.event_id = e.id)::text AS deliveries
                FROM \(unescaped: t.jobs) j
                CROSS JOIN LATERAL (
                    SELECT id, type, created_at, body FROM \(unescaped: t.events)
                    WHERE job_id = j.id ORDER BY created_at DESC LIMIT 1) e
                WHERE j.id = ANY(\(keys))
                """
            ) {
                let job = try Rows.job(row, appNow: transaction.appNow)
                let event = WebhookEvent(
                    id: try row["event_id"].decode(String.self),
                    jobID: job.id,
                    type: WebhookEvent.EventType(description: try row["event_type"].decode(String.self)),
                    createdAt: Timestamp(millisecondsSinceEpoch: try row["event_created_at"].decode(Int64.self)),
                    body: Array(try row["event_body"].decode(ByteBuffer.self).readableBytesView)
                )
                snapshots[job.id] = OutcomeSnapshot(
                    job: job,
                    event: event,
                    deliveries: try Rows.deliveries(
                        json: try row["deliveries"].decode(String?.self),
                        of: event,
                        fence: job.fence
                    ),
                    version: try row["outcome_version"].decode(Int.self),
                    spoolID: try row["spool_id"].decode(String?.self)
                )
            }
            return snapshots
        }
    }

    public func recentCompletions(limit: Int) async throws -> [CompletionObservation] {
        let t = tables
        return try await read { transaction in
            try await transaction.rows(
                """
                SELECT model, resolution, duration_seconds, submitted_at, last_running_at, finished_at
                FROM \(unescaped: t.jobs)
                WHERE phase = 'completed' AND last_running_at IS NOT NULL
                ORDER BY finished_at DESC LIMIT \(Int64(max(0, limit)))
                """
            ).reversed().compactMap { row in
                CompletionObservation(
                    key: CompletionTimeKey(
                        model: try row["model"].decode(String.self),
                        resolution: try row["resolution"].decode(String?.self),
                        durationSeconds: try row["duration_seconds"].decode(Int?.self)
                    ),
                    submittedAt: try Rows.timestamp(row["submitted_at"]),
                    lastRunningAt: try Rows.timestamp(row["last_running_at"]),
                    completedAt: try Rows.timestamp(row["finished_at"])
                )
            }
        }
    }

    public func failedDeliveries(since: Timestamp) async throws -> [Delivery] {
        let t = tables
        return try await read { transaction in
            try await transaction.rows(
                """
                SELECT \(unescaped: Rows.deliveryColumns) FROM \(unescaped: t.deliveries)
                WHERE state = 'failed' AND last_attempt_at >= \(since.millisecondsSinceEpoch)
                ORDER BY last_attempt_at
                """
            ).map { try Rows.delivery($0) }
        }
    }

    /// As on SQLite, and also: nobody holds the job, and it is this daemon's spool's or has no
    /// outcome file (a rejection). Outcome files live in the spool the request came from, so only
    /// that spool's daemon may prune the job with its file.
    public func finishedJobs(before cutoff: Timestamp, limit: Int) async throws -> [Job] {
        let spoolID = try requireSpoolID()
        var binds = PostgresBindings()
        binds.append(cutoff.millisecondsSinceEpoch)
        binds.append(spoolID)
        binds.append(Int64(max(0, limit)))
        let query = PostgresQuery(unsafeSQL: Self.prunableSQL(jobs: tables.jobs), binds: binds)
        return try await read { transaction in
            try await transaction.rows(query).map { try Rows.job($0, appNow: transaction.appNow) }
        }
    }

    /// Retention's query (`$1` the cutoff, `$2` this spool, `$3` the limit): it walks the
    /// `jobs_finished` index in its own order and stops at the limit, so a batch costs its size
    /// however many finished jobs are kept.
    package static func prunableSQL(jobs: String) -> String {
        """
        SELECT \(Rows.jobColumns()) FROM \(jobs)
        WHERE phase IN \(PostgresSchema.terminalPhases) AND source_settled
            AND coalesce(finished_at, accepted_at) < $1
            AND pending_deliveries = 0 AND owner IS NULL
            AND (spool_id = $2 OR phase = 'rejected')
        ORDER BY coalesce(finished_at, accepted_at) LIMIT $3
        """
    }
}
