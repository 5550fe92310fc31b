import Testing
import VideoSpoolCore
import VideoSpoolStore

/// The `storing` phase (a video being downloaded before the job is announced) in SQLite.
@Suite(.timeLimit(.minutes(2)))
struct StoringPhaseTests {
    @Test func aStoringJobRoundTripsAndIsRecoveredAsActiveAfterAReopen() async throws {
        try await withTemporaryDirectory { directory in
            let job = try makeJob("job-storing")
            var storing = try completed(job)
            storing.phase = .storing
            storing.nextActionAt = referenceTime + .seconds(90)
            do {
                let first = try SQLiteJobStore(directory: directory)
                try await first.commit([insert(job)])
                try await first.commit([.updateJob(storing)])
                #expect(try await first.job(job.id) == storing)
            }
            let second = try SQLiteJobStore(directory: directory)
            let state = try await second.recover()
            #expect(state.activeJobs == [storing])
            #expect(state.finishedCounts.isEmpty, "not finished yet")
            #expect(state.staleOutcomes.isEmpty, "no outcome file before the announcement")
            #expect(try await second.jobSummaries(in: .storing, limit: 10).map(\.job.id) == [job.id])
            #expect(try await second.jobSummaries(in: .done, limit: 10).isEmpty)
            #expect(try await second.finishedJobs(before: referenceTime + .seconds(86400 * 365), limit: 10).isEmpty)
            let report = try #require(try await second.jobReport(job.id))
            #expect(report.state == .storing)
            #expect(report.transitions.map(\.to) == [.queued, .storing])
        }
    }
}
