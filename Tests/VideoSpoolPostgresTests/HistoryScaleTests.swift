import Testing
import VideoSpoolCore
import VideoSpoolPostgres
import VideoSpoolTesting

/// On the shared store as on SQLite: retention walks the `jobs_finished` index in its own order
/// (no sort of every finished job, no sequential scan), and start-up counts no finished jobs. The
/// planner is asked about a table with a long history and fresh statistics, so that its answer is
/// the one a real store gets.
@Suite(.timeLimit(.minutes(3)), postgresAvailable)
struct PostgresHistoryScaleTests {
    @Test func pruneWalksTheFinishedIndexAndStartUpCountsNothing() async throws {
        try await withDatabase { runner in
            let store = try await runner.registeredStore()
            try runner.sql(
                """
                INSERT INTO videospool.jobs (id, phase, model, callback_urls, accepted_at, spool_id, source_name,
                    source_sha256, source_disposition, source_settled, finished_at)
                SELECT 'h' || i, CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'completed' END, 'm', '[]', i * 1000,
                    'spool-a', 'h' || i || '.json', 'x', 'remove', true, i * 1000 + 500
                FROM generate_series(1, 50000) AS i;
                ANALYZE videospool.jobs;
                """
            )
            let plan = try runner.sql(
                """
                PREPARE prunable(bigint, text, bigint) AS \(PostgresJobStore.prunableSQL(jobs: "videospool.jobs"));
                EXPLAIN EXECUTE prunable(40000000, 'spool-a', 200);
                """
            )
            #expect(plan.contains("jobs_finished"), "\(plan)")
            #expect(!plan.contains("Sort"), "\(plan)")
            #expect(!plan.contains("Seq Scan"), "\(plan)")

            // The counts come from the table the triggers keep, whatever wrote the jobs.
            #expect(try await store.recover().finishedCounts == [.completed: 45_000, .failed: 5_000])
            let pruned = try await store.finishedJobs(before: Timestamp(millisecondsSinceEpoch: 3_000), limit: 10)
            #expect(pruned.map(\.id.rawValue) == ["h1", "h2"])
        }
    }

    /// The spend estimate's samples (one lookup per submission) come from `spend_ledger_kind`,
    /// however long the ledger has grown, with or without a resolution and duration, and not from
    /// a walk back over the newest entries, still reserved in a burst.
    @Test(arguments: [(true, true), (true, false), (false, true), (false, false)])
    func theEstimateLookupWalksTheKindIndex(resolution: Bool, duration: Bool) async throws {
        try await withDatabase { runner in
            _ = try await runner.registeredStore()
            try runner.sql(
                """
                INSERT INTO videospool.spend_ledger (job_id, model, resolution, duration_seconds, reserved_at,
                    estimate_usd, state, usd_spent)
                SELECT 'l' || i, 'm' || (i % 3), CASE WHEN i % 4 = 0 THEN NULL ELSE '720p' END,
                    CASE WHEN i % 5 = 0 THEN NULL ELSE 5 END, i, 0.25, 'completed', 0.2
                FROM generate_series(1, 60000) AS i;
                INSERT INTO videospool.spend_ledger (job_id, model, resolution, duration_seconds, reserved_at,
                    estimate_usd, state)
                SELECT 'r' || i, 'm1', '720p', 5, 60000 + i, 0.25, 'reserved' FROM generate_series(1, 5000) AS i;
                ANALYZE videospool.spend_ledger;
                """
            )
            let types = ["text", "bigint"] + (resolution ? ["text"] : []) + (duration ? ["bigint"] : [])
            let values = ["'m1'", "20"] + (resolution ? ["'720p'"] : []) + (duration ? ["5"] : [])
            let sql = PostgresJobStore.estimateSamplesSQL(
                ledger: "videospool.spend_ledger",
                resolution: resolution,
                duration: duration
            )
            let plan = try runner.sql(
                """
                PREPARE samples(\(types.joined(separator: ", "))) AS \(sql);
                EXPLAIN EXECUTE samples(\(values.joined(separator: ", ")));
                """
            )
            #expect(plan.contains("spend_ledger_kind"), "\(plan)")
            #expect(!plan.contains("Sort"), "\(plan)")
            #expect(!plan.contains("Seq Scan"), "\(plan)")
        }
    }
}
