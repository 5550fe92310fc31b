import Testing
import VideoSpoolCore
import VideoSpoolStore

/// The query that seeds the learned poll schedule at start-up.
@Suite(.timeLimit(.minutes(2)))
struct RecentCompletionsTests {
    /// A job submitted at the reference time, last seen running `running` s later and complete
    /// `done` s later, finishing in the order of `index`.
    private func finished(_ id: String, index: Int, running: Double?, done: Double, phase: JobPhase = .completed)
        throws -> Job
    {
        var job = try makeJob(id)
        job.phase = phase
        job.submitAttempts = 1
        job.generationID = "gen-" + id
        job.submittedAt = referenceTime + .seconds(index * 1000)
        job.lastRunningAt = running.map { job.submittedAt! + .seconds(double: $0) }
        job.finishedAt = job.submittedAt! + .seconds(double: done)
        return job
    }

    @Test func theLastRunningReportSurvivesARoundTrip() async throws {
        try await withStore { store, _ in
            let job = try finished("job-running", index: 0, running: 100, done: 104)
            try await store.commit([insert(try makeJob("job-running")), .updateJob(job)])
            #expect(try await store.job(job.id)?.lastRunningAt == job.lastRunningAt)
        }
    }

    @Test func theNewestCompletionsComeBackOldestFirst() async throws {
        try await withStore { store, _ in
            for index in 0..<6 {
                let id = "job-\(index)"
                let job = try finished(id, index: index, running: 100, done: Double(101 + index))
                try await store.commit([insert(try makeJob(id)), .updateJob(job)])
            }
            let observations = try await store.recentCompletions(limit: 4)
            #expect(observations.map(\.before) == [103, 104, 105, 106])
            #expect(observations.allSatisfy { $0.after == 100 })
            #expect(
                observations.first?.key
                    == CompletionTimeKey(model: seedanceModel, resolution: "720p", durationSeconds: 5)
            )
        }
    }

    @Test func jobsThatTellNothingAreSkipped() async throws {
        try await withStore { store, _ in
            let jobs = [
                try finished("job-good", index: 0, running: 100, done: 104),
                try finished("job-failed", index: 1, running: 100, done: 104, phase: .failed),
                try finished("job-restarted", index: 2, running: nil, done: 104),
                try makeJob("job-queued"),
            ]
            for job in jobs { try await store.commit([insert(try makeJob(job.id.rawValue)), .updateJob(job)]) }
            let observations = try await store.recentCompletions(limit: 1000)
            #expect(observations == [CompletionObservation(key: CompletionTimeKey(jobs[0]), after: 100, before: 104)])
        }
    }
}
