import Testing
import VideoSpoolCore
import VideoSpoolTesting

/// Intake's lookups for a group of files (shared-spool sources, duplicate contents, job ids),
/// answered at once (one statement on PostgreSQL, one read on SQLite): the same answers as the
/// lookups one by one.
@Suite(.timeLimit(.minutes(2)), postgresAvailable)
struct IntakeFactsTests {
    @Test(arguments: StoreBackend.allCases)
    func aGroupsFactsAreTheOneByOneLookups(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            func job(_ id: String, sha256: String, identity: String?, at offset: Duration, rejected: Bool = false) throws
                -> StoreChange
            {
                var job = try makeJob(id, acceptedAt: referenceTime + offset)
                if rejected {
                    job.phase = .rejected
                    job.failure = JobFailure(code: "invalid_request", message: "no prompt")
                    job.finishedAt = job.acceptedAt
                }
                return .insertJob(
                    job,
                    requestBody: requestBody(for: id),
                    source: SourceFile(name: job.sourceName, sha256: sha256, disposition: .remove, identity: identity)
                )
            }
            let a = String(repeating: "a", count: 64)
            let b = String(repeating: "b", count: 64)
            let c = String(repeating: "c", count: 64)
            let d = String(repeating: "d", count: 64)
            try await store.commit([
                try job("job-old", sha256: a, identity: "file-old", at: .zero),
                try job("job-new", sha256: a, identity: "file-new", at: .seconds(20)),
                try job("job-rejected", sha256: b, identity: nil, at: .seconds(20), rejected: true),
                try job("job-early", sha256: c, identity: nil, at: .zero),
            ])
            let since = referenceTime + .seconds(10)
            let identities = ["file-old", "file-new", "file-unknown"]
            let hashes = [a, b, c, d, a]
            let jobIDs = ["job-old", "job-rejected", "job-nowhere"].map { JobID($0)! }
            let facts = try await store.store.intakeFacts(
                identities: identities,
                sha256s: hashes,
                jobIDs: jobIDs,
                acceptedSince: since
            )
            // Job ids taken by a job in any phase, a rejection included.
            #expect(facts.existing == [JobID("job-old")!, JobID("job-rejected")!])
            for id in jobIDs { #expect(facts.existing.contains(id) == (try await store.store.containsJob(id))) }
            // The latest job accepted in the window, never a rejection.
            #expect(facts.accepted == [a: IntakeFacts.Accepted(jobID: JobID("job-new")!, at: referenceTime + .seconds(20))])
            for sha256 in hashes {
                let one = try await store.store.jobAccepted(fromFileWithSHA256: sha256, since: since)
                #expect(facts.accepted[sha256]?.jobID == one?.0 && facts.accepted[sha256]?.at == one?.1)
            }
            // A source another daemon sharing the spool made a job of: only on a shared store.
            switch backend {
            case .sqlite: #expect(facts.taken.isEmpty)
            case .postgresql: #expect(facts.taken == ["file-old": JobID("job-old")!, "file-new": JobID("job-new")!])
            }
            for identity in identities {
                #expect(facts.taken[identity] == (try await store.store.jobTaken(fromSource: identity)))
            }
        }
    }
}
