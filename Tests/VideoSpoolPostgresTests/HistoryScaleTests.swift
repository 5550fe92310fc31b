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
}
