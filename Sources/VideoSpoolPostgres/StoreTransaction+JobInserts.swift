import Foundation
import NIOCore
import PostgresNIO
import VideoSpoolCore

extension StoreTransaction {
    /// Inserts new jobs with their first transition and their request bodies, one statement for
    /// all of them (in a burst, intake commits hundreds at a time). A job that was not inserted
    /// fails the transaction as it would alone: its source file is already a job, or its id is.
    func insertJobs(_ jobs: [ChangeSchedule.NewJob], me: UUID?, spoolID: String?) async throws {
        guard let spoolID else { throw PostgresStoreError.notRegistered }
        // Twenty-one values a job; a statement takes at most 65,535.
        for run in jobs.runs(of: 1000) { try await writeNewJobs(Array(run), me: me, spoolID: spoolID) }
    }

    private func writeNewJobs(_ jobs: [ChangeSchedule.NewJob], me: UUID?, spoolID: String) async throws {
        let t = tables
        var v = BoundValues()
        let spool = v(spoolID, "text")
        let owner = v(me, "uuid")
        let values = jobs.map { new in
            let job = new.job
            let source = new.source
            let body = job.phase == .rejected ? nil : ByteBuffer(bytes: new.requestBody)
            return BoundValues.row([
                v(job.id.rawValue, "text"), v(job.phase.rawValue, "text"), v(job.model, "text"),
                v(Rows.encode(job.callbackURLs), "text"), v(job.metadata.map { Rows.encode(.object($0)) }, "text"),
                v(job.acceptedAt.millisecondsSinceEpoch, "bigint"), v(source.name, "text"), v(source.sha256, "text"),
                v(source.disposition.rawValue, "text"), v(source.errorDocument.map { ByteBuffer(bytes: $0) }, "bytea"),
                v(source.identity, "text"), v(job.parameters.resolution, "text"),
                v(job.parameters.durationSeconds.map(Int64.init), "bigint"), v(job.failure?.code.description, "text"),
                v(job.failure?.message, "text"), v(job.finishedAt?.millisecondsSinceEpoch, "bigint"),
                v(Int64(job.submitAllowance), "bigint"), v(job.fence, "bigint"), v(body, "bytea"),
            ])
        }
        let inserted = Set(
            try await rows(
                PostgresQuery(
                    unsafeSQL: """
                        WITH v (id, phase, model, callback_urls, metadata, accepted_at, source_name, source_sha256,
                            source_disposition, source_error_document, source_identity, resolution, duration_seconds,
                            failure_code, failure_message, finished_at, submit_allowance, fence, body) AS (
                            VALUES \(values.joined(separator: ", "))),
                        j AS (
                            INSERT INTO \(t.jobs) (id, phase, model, callback_urls, metadata, accepted_at, spool_id,
                                source_name, source_sha256, source_disposition, source_error_document, source_identity,
                                resolution, duration_seconds, failure_code, failure_message, finished_at,
                                submit_allowance, owner, fence, claimed_at)
                            SELECT id, phase, model, callback_urls, metadata, accepted_at, \(spool), source_name,
                                source_sha256, source_disposition, source_error_document, source_identity, resolution,
                                duration_seconds, failure_code, failure_message, finished_at, submit_allowance,
                                \(owner), fence, CASE WHEN \(owner) IS NULL THEN NULL ELSE now() END
                            FROM v
                            ON CONFLICT DO NOTHING
                            RETURNING id, phase, accepted_at, failure_code),
                        t AS (
                            INSERT INTO \(t.transitions) (job_id, from_phase, to_phase, at, detail)
                            SELECT id, NULL, phase, accepted_at, failure_code FROM j),
                        r AS (
                            INSERT INTO \(t.requests) (job_id, body)
                            SELECT v.id, v.body FROM v JOIN j ON j.id = v.id WHERE v.body IS NOT NULL)
                        SELECT id FROM j
                        """,
                    binds: v.bindings
                )
            ).map { try $0[0].decode(String.self) }
        )
        for new in jobs {
            let job = new.job
            if !inserted.contains(job.id.rawValue) {
                if let identity = new.source.identity,
                    let existing = try await value(
                        "SELECT id FROM \(unescaped: t.jobs) WHERE spool_id = \(spoolID) AND source_identity = \(identity)",
                        as: String.self
                    )
                {
                    throw SourceAlreadyTaken(jobID: JobID(trusted: existing))
                }
                throw PostgresStoreError.duplicateJob(job.id)
            }
            if me == nil, !job.phase.isTerminal { announce = true }
            if job.phase.isTerminal { finishedCandidates.insert(job.id.rawValue) }
        }
    }
}
