import Foundation
import GRDB
public import VideoSpoolCore

/// Read-only queries for the operator commands. They run on WAL readers, so they never block the
/// daemon's writer.
extension SQLiteJobStore: JobReports {
    /// Jobs in `state` (any state when `nil`), most recently accepted first.
    public func jobSummaries(in state: JobState?, limit: Int) async throws -> [JobSummary] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: SQLiteQueries.summaries(in: state),
                arguments: SQLiteQueries.arguments(for: state, limit: limit)
            ).map { row in
                let job = Self.job(row)
                return JobSummary(job: job, state: JobState(phase: job.phase, deliveriesPending: row["pending"]))
            }
        }
    }

    public func spendEntries(since: Timestamp) async throws -> [SpendEntry] {
        try await pool.read { db in try SQLiteLedger.entries(since: since, in: db) }
    }

    public func jobReport(_ id: JobID) async throws -> JobReport? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id.rawValue])
            else { return nil }
            let job = Self.job(row)
            let body = try Data.fetchOne(db, sql: "SELECT body FROM requests WHERE job_id = ?", arguments: [id.rawValue])
            let transitions = try Row.fetchAll(
                db,
                sql: "SELECT * FROM transitions WHERE job_id = ? ORDER BY seq",
                arguments: [id.rawValue]
            ).map { row in
                JobTransition(
                    jobID: id,
                    from: (row["from_phase"] as String?).flatMap(JobPhase.init(rawValue:)),
                    to: JobPhase(rawValue: row["to_phase"]) ?? .failed,
                    at: Timestamp(millisecondsSinceEpoch: row["at"]),
                    detail: row["detail"]
                )
            }
            let events = try Row.fetchAll(
                db,
                sql: "SELECT * FROM events WHERE job_id = ? ORDER BY created_at",
                arguments: [id.rawValue]
            ).map(Self.event)
            let deliveries = try Row.fetchAll(
                db,
                sql: "SELECT * FROM deliveries WHERE job_id = ? ORDER BY event_id, idx",
                arguments: [id.rawValue]
            ).map(Self.delivery)
            let attempts = try Row.fetchAll(
                db,
                sql: "SELECT * FROM delivery_attempts WHERE job_id = ? ORDER BY seq",
                arguments: [id.rawValue]
            ).map { row in
                DeliveryAttempt(
                    deliveryID: Delivery.ID(eventID: row["event_id"], index: row["idx"]),
                    jobID: id,
                    number: row["number"],
                    startedAt: Timestamp(millisecondsSinceEpoch: row["started_at"]),
                    latency: .milliseconds(row["latency_ms"] as Int64),
                    statusCode: row["status"],
                    error: row["error"],
                    resultingState: Delivery.State(rawValue: row["resulting_state"]) ?? .failed
                )
            }
            return JobReport(
                job: job,
                state: JobState(phase: job.phase, deliveriesPending: deliveries.contains { $0.state == .pending }),
                requestBody: body.map(Array.init),
                transitions: transitions,
                events: events,
                deliveries: deliveries,
                attempts: attempts
            )
        }
    }
}
