import Foundation
import PostgresNIO
import VideoSpoolCore

extension StoreTransaction {
    /// Inserts webhook events of distinct jobs with their deliveries, one statement for all of
    /// them, in the statement that checks each job is held (under the deliveries' fence) and marks
    /// its outcome file out of date. A job not held fails the transaction as it would alone.
    func insertEvents(_ events: [ChangeSchedule.NewEvent], me: UUID?) async throws {
        let me = try Self.require(me)
        // Seven values an event and seven a delivery (plus two shared); a statement takes at most 65,535.
        for run in events.runs(ofAtMost: 60_000, values: { 7 + 7 * $0.deliveries.count }) {
            try await writeEvents(Array(run), me: me)
        }
    }

    private func writeEvents(_ events: [ChangeSchedule.NewEvent], me: UUID) async throws {
        let t = tables
        var v = BoundValues()
        let owner = v(me, "uuid")
        let ids = v(events.map(\.event.jobID.rawValue), "text[]")
        let held = events.map { new in
            BoundValues.row([v(new.event.jobID.rawValue, "text"), v(new.deliveries.first?.fence, "bigint")])
        }
        let eventRows = events.map { new in
            let event = new.event
            return BoundValues.row([
                v(event.id, "text"), v(event.jobID.rawValue, "text"), v(event.type.description, "text"),
                v(event.createdAt.millisecondsSinceEpoch, "bigint"), v(ByteBuffer(bytes: event.body), "bytea"),
            ])
        }
        let deliveryRows = events.flatMap(\.deliveries).map { Self.deliveryRow($0, &v) }
        var sql = """
            WITH k (job_id, fence) AS (VALUES \(held.joined(separator: ", "))),
            h AS (
                UPDATE \(t.jobs) j
                SET outcome_version = j.outcome_version + CASE WHEN j.phase <> 'rejected' THEN 1 ELSE 0 END
                FROM k WHERE j.id = ANY(\(ids)) AND j.id = k.job_id AND coalesce(j.owner = \(owner), false)
                    AND (k.fence IS NULL OR j.fence = k.fence)
                RETURNING j.id),
            e AS (
                INSERT INTO \(t.events) (id, job_id, type, created_at, body)
                SELECT * FROM (VALUES \(eventRows.joined(separator: ", "))) AS e (id, job_id, type, created_at, body)
                WHERE job_id IN (SELECT id FROM h))
            """
        if !deliveryRows.isEmpty {
            sql += """
                ,
                d AS (
                    INSERT INTO \(t.deliveries) (event_id, idx, job_id, url, state, attempts, next_attempt_at)
                    SELECT * FROM (VALUES \(deliveryRows.joined(separator: ", ")))
                        AS d (event_id, idx, job_id, url, state, attempts, next_attempt_at)
                    WHERE job_id IN (SELECT id FROM h))
                """
        }
        sql += "\nSELECT id FROM h"
        let written = Set(try await rows(PostgresQuery(unsafeSQL: sql, binds: v.bindings)).map { try $0[0].decode(String.self) })
        for new in events where !written.contains(new.event.jobID.rawValue) { try await explainMissingJob(new.event.jobID) }
    }

    /// A delivery added to an event already written (`videospool redeliver`).
    func addDelivery(_ delivery: Delivery, me: UUID?) async throws {
        let me = try Self.require(me)
        try await holdAndMarkStale(delivery.jobID, me: me, fence: delivery.fence)
        var v = BoundValues()
        let row = Self.deliveryRow(delivery, &v)
        try await execute(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(tables.deliveries) (event_id, idx, job_id, url, state, attempts, next_attempt_at)
                    VALUES \(row)
                    """,
                binds: v.bindings
            )
        )
    }

    /// Writes delivery updates of distinct jobs with one statement, each fenced on its job's
    /// ownership and fence, and marks the jobs' outcome files out of date. A job whose lease was
    /// lost fails the transaction; a delivery that does not exist changes nothing, as on SQLite.
    func updateDeliveries(_ deliveries: [Delivery], me: UUID?) async throws {
        let me = try Self.require(me)
        for run in deliveries.runs(of: 1000) { try await writeDeliveryUpdates(Array(run), me: me) }
    }

    private func writeDeliveryUpdates(_ deliveries: [Delivery], me: UUID) async throws {
        let t = tables
        var v = BoundValues()
        let owner = v(me, "uuid")
        let ids = v(deliveries.map(\.jobID.rawValue), "text[]")
        let rows = deliveries.map { delivery in
            BoundValues.row([
                v(delivery.id.eventID, "text"), v(Int64(delivery.id.index), "bigint"), v(delivery.jobID.rawValue, "text"),
                v(delivery.fence, "bigint"), v(delivery.state.rawValue, "text"), v(Int64(delivery.attempts), "bigint"),
                v(delivery.nextAttemptAt?.millisecondsSinceEpoch, "bigint"),
                v(delivery.lastAttemptAt?.millisecondsSinceEpoch, "bigint"),
                v(delivery.lastStatusCode.map(Int64.init), "bigint"), v(delivery.lastError, "text"),
                v(delivery.deliveredAt?.millisecondsSinceEpoch, "bigint"),
            ])
        }
        let updated = Set(
            try await self.rows(
                PostgresQuery(
                    unsafeSQL: """
                        WITH v (event_id, idx, job_id, fence, state, attempts, next_attempt_at, last_attempt_at,
                            last_status, last_error, delivered_at) AS (VALUES \(rows.joined(separator: ", "))),
                        d AS (
                            UPDATE \(t.deliveries) d SET state = v.state, attempts = v.attempts,
                                next_attempt_at = v.next_attempt_at, last_attempt_at = v.last_attempt_at,
                                last_status = v.last_status, last_error = v.last_error, delivered_at = v.delivered_at
                            FROM v JOIN \(t.jobs) j ON j.id = v.job_id
                            WHERE d.event_id = v.event_id AND d.idx = v.idx AND j.id = ANY(\(ids))
                                AND coalesce(j.owner = \(owner), false) AND j.fence = v.fence
                            RETURNING d.event_id, d.idx, d.job_id),
                        o AS (
                            UPDATE \(t.jobs) SET outcome_version = outcome_version + 1
                            WHERE id = ANY(\(ids)) AND id IN (SELECT job_id FROM d) AND phase <> 'rejected')
                        SELECT event_id || '/' || idx FROM d
                        """,
                    binds: v.bindings
                )
            ).map { try $0[0].decode(String.self) }
        )
        for delivery in deliveries {
            if !updated.contains(delivery.id.description) { try await explainUnwrittenDelivery(delivery, me: me) }
            if delivery.state.isFinal { finishedCandidates.insert(delivery.jobID.rawValue) }
        }
    }

    /// A delivery update affected nothing: its job moved on (the lease is lost), or the delivery
    /// does not exist (nothing to do).
    private func explainUnwrittenDelivery(_ delivery: Delivery, me: UUID) async throws {
        let row = try await rows(
            """
            SELECT j.owner = \(me) AND j.fence = \(delivery.fence) AS held
            FROM \(unescaped: tables.deliveries) d JOIN \(unescaped: tables.jobs) j ON j.id = d.job_id
            WHERE d.event_id = \(delivery.id.eventID) AND d.idx = \(Int64(delivery.id.index))
            """
        ).first
        if let row, try row["held"].decode(Bool?.self) != true { throw LeaseLost(jobs: [delivery.jobID]) }
    }

    /// `($n, …)` for one new delivery row, its values bound in `v`.
    private static func deliveryRow(_ delivery: Delivery, _ v: inout BoundValues) -> String {
        BoundValues.row([
            v(delivery.id.eventID, "text"), v(Int64(delivery.id.index), "bigint"), v(delivery.jobID.rawValue, "text"),
            v(delivery.url, "text"), v(delivery.state.rawValue, "text"), v(Int64(delivery.attempts), "bigint"),
            v(delivery.nextAttemptAt?.millisecondsSinceEpoch, "bigint"),
        ])
    }
}
