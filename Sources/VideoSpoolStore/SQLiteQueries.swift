import GRDB
package import VideoSpoolCore

/// The queries whose cost must follow the work asked for, not the size of the history (a store
/// keeps millions of finished jobs under the default retention). Each is named here so that tests
/// can hold it to its index with `EXPLAIN QUERY PLAN` (``SQLiteJobStore/queryPlan(_:)``).
package enum SQLiteQueries {
    /// Start-up: the jobs to resume, through `jobs_phase`.
    package static let activeJobs = "SELECT * FROM jobs WHERE phase IN ('queued', 'submitting', 'generating', 'storing') ORDER BY seq"

    /// Start-up: outcome files to write. Named indexes here and below: `jobs_phase` would also
    /// serve these, as a scan of every job in the phase.
    package static let staleOutcomes = """
        SELECT id FROM jobs INDEXED BY jobs_stale_outcome WHERE outcome_version > outcome_written_version
            AND phase IN ('completed', 'failed', 'canceled') ORDER BY seq
        """

    /// Start-up: what the poll schedule learns from, newest first.
    package static let recentCompletions = """
        SELECT model, resolution, duration_seconds, submitted_at, last_running_at, finished_at
        FROM jobs INDEXED BY jobs_completed
        WHERE phase = 'completed' AND last_running_at IS NOT NULL
        ORDER BY finished_at DESC LIMIT ?
        """

    /// Start-up: finished jobs per phase for the status line, kept by triggers (migration v7).
    package static let finishedCounts = "SELECT phase, n FROM finished_counts WHERE n <> 0"

    /// Retention: the oldest finished jobs that may go, walking `jobs_finished` in its own order,
    /// so that a batch costs its size however many finished jobs are kept.
    package static let prunable = """
        SELECT * FROM jobs INDEXED BY jobs_finished
        WHERE phase IN ('completed', 'failed', 'rejected', 'canceled') AND source_settled = 1
            AND coalesce(finished_at, accepted_at) < ?
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id AND d.state = 'pending')
        ORDER BY coalesce(finished_at, accepted_at) LIMIT ?
        """

    private static let pending = "EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id AND d.state = 'pending')"

    /// `videospool list [--state]`, newest first, with `?` for each value of `arguments(for:limit:)`.
    /// A state is read one phase at a time through `jobs_phase` (newest first, stopping at the
    /// limit); `delivering` starts from the pending deliveries, which are few whatever the history.
    package static func summaries(in state: JobState?) -> String {
        guard let state else { return "SELECT *, \(pending) AS pending FROM jobs ORDER BY seq DESC LIMIT ?" }
        if state.needsDeliveriesPending == true {
            // CROSS JOIN keeps the deliveries as the outer loop (SQLite's rule for it).
            return """
                SELECT jobs.*, 1 AS pending
                FROM (SELECT DISTINCT job_id FROM deliveries WHERE state = 'pending') AS owed
                CROSS JOIN jobs ON jobs.id = owed.job_id
                WHERE jobs.phase IN ('completed', 'failed', 'rejected', 'canceled')
                ORDER BY jobs.seq DESC LIMIT ?
                """
        }
        let settled = state.needsDeliveriesPending == false ? " AND NOT \(pending)" : ""
        let parts = state.phases.map { _ in
            "SELECT * FROM (SELECT *, \(pending) AS pending FROM jobs WHERE phase = ?\(settled) ORDER BY seq DESC LIMIT ?)"
        }
        if parts.count == 1 { return parts[0] }
        return "SELECT * FROM (\(parts.joined(separator: " UNION ALL "))) ORDER BY seq DESC LIMIT ?"
    }

    /// The values for the placeholders of ``summaries(in:)``.
    static func arguments(for state: JobState?, limit: Int) -> StatementArguments {
        let limit = Int64(max(0, limit))
        guard let state, state.needsDeliveriesPending != true else { return [limit] }
        var arguments = StatementArguments()
        for phase in state.phases { arguments += [phase.rawValue, limit] }
        if state.phases.count > 1 { arguments += [limit] }
        return arguments
    }
}
