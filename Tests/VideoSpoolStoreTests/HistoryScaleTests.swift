import GRDB
import Testing
import VideoSpoolCore
import VideoSpoolStore

/// What must not grow with the history a store keeps (millions of finished jobs under the
/// default retention): each query that prune, start-up and `list --state` run reads through an
/// index in the order it needs, and start-up counts no finished jobs. Held to SQLite's own plans,
/// so that no timing is involved (the figures come from `videospool-bench --only history`).
struct HistoryScaleTests {
    /// Plan lines that read the jobs table without an index (a full scan).
    static func fullScans(_ plan: [String]) -> [String] {
        plan.filter { $0.hasPrefix("SCAN jobs") && !$0.contains("INDEX") }
    }

    @Test func pruneWalksTheFinishedIndexInItsOwnOrder() async throws {
        try await withStore { store, _ in
            let plan = try await store.queryPlan(SQLiteQueries.prunable)
            #expect(plan.contains { $0.contains("jobs USING INDEX jobs_finished") }, "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "no sort of every finished job: \(plan)")
            #expect(Self.fullScans(plan).isEmpty, "\(plan)")
        }
    }

    @Test func startUpReadsNoFinishedJobs() async throws {
        try await withStore { store, _ in
            let counts = try await store.queryPlan(SQLiteQueries.finishedCounts)
            #expect(counts == ["SCAN finished_counts"], "the counts are kept, not counted: \(counts)")
            for (name, sql, index) in [
                ("active jobs", SQLiteQueries.activeJobs, "jobs_phase"),
                ("stale outcomes", SQLiteQueries.staleOutcomes, "jobs_stale_outcome"),
                ("recent completions", SQLiteQueries.recentCompletions, "jobs_completed"),
            ] {
                let plan = try await store.queryPlan(sql)
                #expect(plan.contains { $0.contains("INDEX \(index)") }, "\(name): \(plan)")
                #expect(Self.fullScans(plan).isEmpty, "\(name): \(plan)")
            }
            // Newest first from the index, stopping at the limit: no sort of every completed job.
            let recent = try await store.queryPlan(SQLiteQueries.recentCompletions)
            #expect(!recent.contains { $0.contains("TEMP B-TREE") }, "\(recent)")
        }
    }

    @Test(arguments: JobState.allCases)
    func listByStateReadsThroughAnIndex(_ state: JobState) async throws {
        try await withStore { store, _ in
            let plan = try await store.queryPlan(SQLiteQueries.summaries(in: state))
            #expect(Self.fullScans(plan).isEmpty, "\(plan)")
            if state == .delivering {
                // From the pending deliveries (few), never from the finished jobs (many).
                #expect(plan.contains { $0.contains("deliveries USING INDEX deliveries_pending") }, "\(plan)")
                #expect(!plan.contains { $0.contains("jobs_phase") }, "\(plan)")
            } else {
                #expect(plan.contains { $0.contains("jobs USING INDEX jobs_phase (phase=?)") }, "\(plan)")
                // Each phase is read newest first straight from the index; only the merged,
                // already limited rows are sorted.
                let sortsBeforeMerge = plan.prefix { !$0.contains("MERGE") }.filter { $0.contains("TEMP B-TREE") }
                #expect(sortsBeforeMerge.isEmpty || state.phases.count > 1, "\(plan)")
            }
        }
    }

    @Test func listByStateFindsTheSameJobsAsBefore() async throws {
        try await withStore { store, _ in
            // queued q1, q2; done d1; failed f1 and rejected r1; d2 completed with a webhook pending.
            let queued = [try makeJob("q1"), try makeJob("q2")]
            let done = try completed(try makeJob("d1"))
            var failed = try makeJob("f1")
            failed.phase = .failed
            failed.failure = JobFailure(code: .generationFailed, message: "no")
            failed.finishedAt = referenceTime + .seconds(5)
            var rejected = try makeJob("r1", phase: .rejected)
            rejected.finishedAt = referenceTime
            let delivering = try completed(try makeJob("d2"))
            try await store.commit(queued.map(insert))
            for job in [done, failed, delivering] {
                try await store.commit([insert(try makeJob(job.id.rawValue)), .updateJob(job)])
            }
            try await store.commit([insert(rejected)])
            let event = makeEvent(for: delivering)
            try await store.commit([.insertEvent(event, deliveries: makeDeliveries(for: event, urls: ["https://a.example/h"]))])

            func ids(_ state: JobState?, limit: Int = 50) async throws -> [String] {
                try await store.jobSummaries(in: state, limit: limit).map(\.job.id.rawValue)
            }
            #expect(try await ids(.queued) == ["q2", "q1"])
            #expect(try await ids(.queued, limit: 1) == ["q2"])
            #expect(try await ids(.done) == ["d1"])
            #expect(try await ids(.failed) == ["r1", "f1"], "newest first across both phases")
            #expect(try await ids(.failed, limit: 1) == ["r1"])
            #expect(try await ids(.delivering) == ["d2"])
            #expect(try await store.jobSummaries(in: .delivering, limit: 5).map(\.state) == [.delivering])
            #expect(try await ids(.canceled).isEmpty)
            #expect(try await ids(nil) == ["r1", "d2", "f1", "d1", "q2", "q1"])
        }
    }

    @Test func finishedCountsFollowEveryChangeAndSurviveARestart() async throws {
        try await withStore { store, directory in
            let jobs = try (1...4).map { try makeJob("c\($0)") }
            try await store.commit(jobs.map(insert))
            try await store.commit(try jobs.prefix(3).map { .updateJob(try completed($0)) })
            var failed = jobs[3]
            failed.phase = .failed
            failed.finishedAt = referenceTime + .seconds(1)
            try await store.commit([.updateJob(failed), .sourceSettled(failed.id)])
            // An update that keeps the phase counts nothing twice.
            var again = try completed(jobs[0])
            again.polls = 9
            try await store.commit([.updateJob(again)])
            // `videospool retry`: a failed job becomes queued again.
            var retried = failed
            retried.phase = .queued
            retried.finishedAt = nil
            try await store.commit([.updateJob(retried)])
            #expect(try await store.recover().finishedCounts == [.completed: 3])
            // A prune deletes one; a delete of an unfinished job deletes nothing.
            try await store.commit([.deleteJob(jobs[1].id), .deleteJob(retried.id)])
            let rejected = try makeJob("r1", phase: .rejected)
            try await store.commit([insert(rejected)])
            let reopened = try SQLiteJobStore(directory: directory)
            #expect(try await reopened.recover().finishedCounts == [.completed: 2, .rejected: 1])
        }
    }

    @Test func oldestFinishedJobsArePrunedFirstWhateverTheirArrival() async throws {
        try await withStore { store, _ in
            // Arrival order a, b, c; finishing order c, a, b; d still has a webhook pending.
            let finishing: [(String, Int64)] = [("a", 20), ("b", 30), ("c", 10), ("d", 5)]
            for (id, second) in finishing {
                var job = try completed(try makeJob(id))
                job.finishedAt = referenceTime + .seconds(second)
                try await store.commit([insert(try makeJob(id)), .updateJob(job), .sourceSettled(job.id)])
            }
            let dID = try #require(JobID("d"))
            let d = try #require(try await store.job(dID))
            let event = makeEvent(for: d)
            try await store.commit([.insertEvent(event, deliveries: makeDeliveries(for: event, urls: ["https://a.example/h"]))])
            let cutoff = referenceTime + .seconds(25)
            #expect(try await store.finishedJobs(before: cutoff, limit: 10).map(\.id.rawValue) == ["c", "a"])
            #expect(try await store.finishedJobs(before: cutoff, limit: 1).map(\.id.rawValue) == ["c"])
        }
    }

    /// A store made by an earlier version (schema v5) keeps its jobs, gains the indexes and
    /// starts with the right counts.
    @Test func anOlderStoreIsUpgradedWithItsCounts() async throws {
        try await withTemporaryDirectory { directory in
            let queue = try DatabaseQueue(path: directory + "/videospool.sqlite")
            try StoreSchema.migrator.migrate(queue, upTo: "v5: submit allowance and ownership")
            try await queue.write { db in
                for (id, phase) in [("o1", "completed"), ("o2", "completed"), ("o3", "failed"), ("o4", "queued")] {
                    try db.execute(
                        sql: """
                            INSERT INTO jobs (id, phase, model, callback_urls, accepted_at, source_name, source_sha256,
                                source_disposition, source_settled, finished_at)
                            VALUES (?, ?, 'm', '[]', 1000, ?, 'ab', 'remove', 1, CASE WHEN ? = 'queued' THEN NULL ELSE 2000 END)
                            """,
                        arguments: [id, phase, id + ".json", phase]
                    )
                }
            }
            try queue.close()

            let store = try SQLiteJobStore(directory: directory)
            let recovered = try await store.recover()
            #expect(recovered.finishedCounts == [.completed: 2, .failed: 1])
            #expect(recovered.activeJobs.map(\.id.rawValue) == ["o4"])
            let plan = try await store.queryPlan(SQLiteQueries.prunable)
            #expect(plan.contains { $0.contains("jobs_finished") }, "\(plan)")
            #expect(try await store.finishedJobs(before: Timestamp(millisecondsSinceEpoch: 3000), limit: 10).count == 3)
            let o1 = try #require(JobID("o1"))
            try await store.commit([.deleteJob(o1)])
            #expect(try await store.recover().finishedCounts == [.completed: 1, .failed: 1])
        }
    }
}
