import NIOCore
import PostgresNIO
public import VideoSpoolCore

/// `videospool list` and `show` against the shared store, with SQLite's results. Every list is
/// read through an index, newest first, and stops at the limit: nothing scans the jobs table.
extension PostgresJobStore: JobReports {
    public func jobSummaries(in state: JobState?, limit: Int) async throws -> [JobSummary] {
        let t = tables
        let limit = Int64(max(0, limit))
        let columns = Rows.jobColumns()
        let sql: String
        var binds = PostgresBindings()
        binds.append(limit)
        if let state {
            switch state.needsDeliveriesPending {
            case true?:
                sql = """
                    SELECT \(columns) FROM \(t.jobs)
                    WHERE pending_deliveries > 0 AND phase IN \(PostgresSchema.terminalPhases)
                    ORDER BY seq DESC LIMIT $1
                    """
            case let pending:
                // One index range per phase (newest first), merged.
                let settled = pending == false ? " AND pending_deliveries = 0" : ""
                let parts = state.phases.map { phase -> String in
                    binds.append(phase.rawValue)
                    return "(SELECT \(columns) FROM \(t.jobs) WHERE phase = $\(binds.count)\(settled) ORDER BY seq DESC LIMIT $1)"
                }
                sql = "SELECT * FROM (\(parts.joined(separator: " UNION ALL "))) jobs ORDER BY seq DESC LIMIT $1"
            }
        } else {
            sql = "SELECT \(columns) FROM \(t.jobs) ORDER BY seq DESC LIMIT $1"
        }
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        return try await read { transaction in
            try await transaction.rows(query).map { row in
                let job = try Rows.job(row, appNow: transaction.appNow)
                let pending = try row["pending_deliveries"].decode(Int.self) > 0
                return JobSummary(job: job, state: JobState(phase: job.phase, deliveriesPending: pending))
            }
        }
    }

    public func spendEntries(since: Timestamp) async throws -> [SpendEntry] {
        try await read { transaction in try await transaction.spendEntries(since: since) }
    }

    public func jobReport(_ id: JobID) async throws -> JobReport? {
        let t = tables
        return try await read { transaction in
            guard
                let row = try await transaction.rows(
                    "SELECT \(unescaped: Rows.jobColumns()) FROM \(unescaped: t.jobs) WHERE id = \(id.rawValue)"
                ).first
            else { return nil }
            let job = try Rows.job(row, appNow: transaction.appNow)
            let body = try await transaction.value(
                "SELECT body FROM \(unescaped: t.requests) WHERE job_id = \(id.rawValue)",
                as: ByteBuffer.self
            )
            let transitions = try await transaction.rows(
                """
                SELECT from_phase, to_phase, at, detail FROM \(unescaped: t.transitions)
                WHERE job_id = \(id.rawValue) ORDER BY seq
                """
            ).map { row in
                JobTransition(
                    jobID: id,
                    from: try row["from_phase"].decode(String?.self).flatMap(JobPhase.init(rawValue:)),
                    to: JobPhase(rawValue: try row["to_phase"].decode(String.self)) ?? .failed,
                    at: Timestamp(millisecondsSinceEpoch: try row["at"].decode(Int64.self)),
                    detail: try row["detail"].decode(String?.self)
                )
            }
            let events = try await transaction.rows(
                """
                SELECT \(unescaped: Rows.eventColumns) FROM \(unescaped: t.events)
                WHERE job_id = \(id.rawValue) ORDER BY created_at
                """
            ).map(Rows.event)
            let deliveries = try await transaction.rows(
                """
                SELECT \(unescaped: Rows.deliveryColumns) FROM \(unescaped: t.deliveries)
                WHERE job_id = \(id.rawValue) ORDER BY event_id, idx
                """
            ).map { try Rows.delivery($0) }
            let attempts = try await transaction.rows(
                """
                SELECT event_id, idx, number, started_at, latency_ms, status, error, resulting_state
                FROM \(unescaped: t.attempts) WHERE job_id = \(id.rawValue) ORDER BY seq
                """
            ).map { row in
                DeliveryAttempt(
                    deliveryID: Delivery.ID(eventID: try row["event_id"].decode(String.self), index: try row["idx"].decode(Int.self)),
                    jobID: id,
                    number: try row["number"].decode(Int.self),
                    startedAt: Timestamp(millisecondsSinceEpoch: try row["started_at"].decode(Int64.self)),
                    latency: .milliseconds(try row["latency_ms"].decode(Int64.self)),
                    statusCode: try row["status"].decode(Int?.self),
                    error: try row["error"].decode(String?.self),
                    resultingState: Delivery.State(rawValue: try row["resulting_state"].decode(String.self)) ?? .failed
                )
            }
            return JobReport(
                job: job,
                state: JobState(phase: job.phase, deliveriesPending: deliveries.contains { $0.state == .pending }),
                requestBody: body.map { Array($0.readableBytesView) },
                transitions: transitions,
                events: events,
                deliveries: deliveries,
                attempts: attempts
            )
        }
    }
}
