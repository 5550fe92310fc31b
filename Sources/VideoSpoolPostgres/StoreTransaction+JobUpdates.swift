import Foundation
import PostgresNIO
import VideoSpoolCore

extension StoreTransaction {
    /// Writes job updates of distinct jobs with one statement, each row fenced on its own (this
    /// daemon's ownership and the job's fence), with their transition rows. A job whose row was
    /// not written (its lease lost, or unknown) fails the transaction as it would alone.
    ///
    /// One statement for many jobs because, in a burst, a group commit carries hundreds of job
    /// updates, and a round trip each was most of the PostgreSQL store's cost (docs/performance.md).
    func updateJobs(_ jobs: [Job], me: UUID?) async throws {
        let me = try Self.require(me)
        // The database refuses more submissions than allowed (`submit_budget`) without naming the
        // row, so a job that would break it is written alone and the refusal is that job's.
        for job in jobs where job.submitAttempts > job.submitAllowance { try await writeJobUpdates([job], me: me) }
        let rest = jobs.filter { $0.submitAttempts <= $0.submitAllowance }
        if !rest.isEmpty { try await writeJobUpdates(rest, me: me) }
    }

    private func writeJobUpdates(_ jobs: [Job], me: UUID) async throws {
        let t = tables
        // The rows are found by the primary key (`id = ANY(…)`, the ids again as an array: the
        // planner cannot see into the JSON). The ownership check is written so that no index can
        // serve it: in a burst the planner's statistics still say this daemon owns a job or two,
        // and it would walk `jobs_owner` over the thousands it does own.
        let ids = jobs.map(\.id.rawValue)
        let written: Set<String>
        do {
            written = Set(
                try await rows(
                    """
                    WITH v AS (
                        SELECT r->>0 AS id, r->>1 AS phase, (r->>2)::bigint AS fence,
                            (r->>3)::bigint AS submit_attempts, (r->>4)::bigint AS submit_allowance,
                            (r->>5)::bigint AS due_in, (r->>6)::bigint AS submitted_at, r->>7 AS generation_id,
                            r->>8 AS upstream_status, (r->>9)::bigint AS polls,
                            (r->>10)::bigint AS consecutive_poll_failures, (r->>11)::bigint AS consecutive_not_found,
                            (r->>12)::bigint AS finished_at, r->>13 AS video_url, r->>14 AS credits_used,
                            r->>15 AS usd_spent, r->>16 AS failure_code, r->>17 AS failure_message,
                            (r->>18)::bigint AS bump, (r->>19)::bigint AS last_running_at,
                            (r->>20)::bigint AS requeued_at
                        FROM jsonb_array_elements(\(Self.jobUpdateRows(jobs, appNow: appNow))::jsonb) AS r),
                    t AS (
                        INSERT INTO \(unescaped: t.transitions) (job_id, from_phase, to_phase, at, detail)
                        SELECT j.id, j.phase, v.phase, \(appNow.millisecondsSinceEpoch), v.failure_code
                        FROM \(unescaped: t.jobs) j JOIN v ON v.id = j.id
                        WHERE j.id = ANY(\(ids)) AND j.phase <> v.phase AND coalesce(j.owner = \(me), false) AND j.fence = v.fence)
                    UPDATE \(unescaped: t.jobs) j SET phase = v.phase,
                        submit_attempts = v.submit_attempts, submit_allowance = v.submit_allowance,
                        run_after = now() + v.due_in * interval '1 millisecond',
                        submitted_at = v.submitted_at, generation_id = v.generation_id,
                        upstream_status = v.upstream_status, polls = v.polls,
                        consecutive_poll_failures = v.consecutive_poll_failures,
                        consecutive_not_found = v.consecutive_not_found,
                        finished_at = v.finished_at, video_url = v.video_url,
                        credits_used = v.credits_used, usd_spent = v.usd_spent,
                        failure_code = v.failure_code, failure_message = v.failure_message,
                        outcome_version = j.outcome_version + v.bump,
                        last_running_at = v.last_running_at, requeued_at = v.requeued_at
                    FROM v WHERE j.id = ANY(\(ids)) AND j.id = v.id AND coalesce(j.owner = \(me), false) AND j.fence = v.fence
                    RETURNING j.id
                    """
                ).map { try $0[0].decode(String.self) }
            )
        } catch let error as PSQLError where Self.isBudgetViolation(error) && jobs.count == 1 {
            let job = jobs[0]
            throw SubmitBudgetExceeded(jobID: job.id, attempts: job.submitAttempts, allowance: job.submitAllowance)
        }
        for job in jobs where !written.contains(job.id.rawValue) { try await explainMissingJob(job.id) }
        try await settle(jobs.compactMap { job in SpendSettlement.implied(by: job).map { (job.id, $0) } })
        for job in jobs where job.phase.isTerminal { finishedCandidates.insert(job.id.rawValue) }
    }

    /// The jobs' new values as one JSON array of positional rows (the columns of the `v` above):
    /// one bound value for any number of jobs, NULLs included.
    static func jobUpdateRows(_ jobs: [Job], appNow: Timestamp) -> String {
        func int(_ value: Int64?) -> JSONValue { value.map(JSONValue.int) ?? .null }
        let rows: [JSONValue] = jobs.map { job in
            .array([
                .string(job.id.rawValue), .string(job.phase.rawValue), .int(job.fence),
                .int(Int64(job.submitAttempts)), .int(Int64(job.submitAllowance)),
                int(job.nextActionAt.map { ($0 - appNow).wholeMilliseconds }),
                int(job.submittedAt?.millisecondsSinceEpoch), .optional(job.generationID),
                .optional(job.upstreamStatus), .int(Int64(job.polls)),
                .int(Int64(job.consecutivePollFailures)), .int(Int64(job.consecutiveNotFound)),
                int(job.finishedAt?.millisecondsSinceEpoch), .optional(job.videoURL),
                .optional(job.usage?.creditsUsed?.text), .optional(job.usage?.usdSpent?.text),
                .optional(job.failure?.code.description), .optional(job.failure?.message),
                .int(job.phase.hasOutcomeFile ? 1 : 0),
                int(job.lastRunningAt?.millisecondsSinceEpoch), int(job.requeuedAt?.millisecondsSinceEpoch),
            ])
        }
        return JSONWriter().string(.array(rows))
    }
}
