#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRDB
import Testing
import VideoSpoolCore
import VideoSpoolStore
import VideoSpoolTesting

@Suite(.timeLimit(.minutes(2)))
struct SQLiteJobStoreOpeningTests {
    @Test func openingCreatesTheDatabaseInWALMode() async throws {
        try await withStore { store, directory in
            #expect(store.path == directory + "/videospool.sqlite")
            try await store.commit([insert(try makeJob("job-wal"))])
            #expect(FileManager.default.fileExists(atPath: directory + "/videospool.sqlite"))
            #expect(FileManager.default.fileExists(atPath: directory + "/videospool.sqlite-wal"))
            // Bytes 18 and 19 of the database header (file format write and read versions) are 2
            // exactly when the database is in WAL mode; the setting is persistent.
            let header = try #require(FileManager.default.contents(atPath: directory + "/videospool.sqlite"))
            try #require(header.count >= 100)
            #expect(Array(header.prefix(16)) == Array("SQLite format 3\0".utf8))
            #expect(header[18] == 2 && header[19] == 2, "not in WAL mode")
        }
    }

    @Test func aReopenedStoreSeesEverythingCommittedBefore() async throws {
        try await withTemporaryDirectory { directory in
            let job = try makeJob("job-durable")
            let event = makeEvent(for: try completed(job))
            do {
                let first = try SQLiteJobStore(directory: directory)
                try await first.commit([insert(job)])
                try await first.commit([.updateJob(try completed(job)), .insertEvent(event, deliveries: [])])
            }
            // The first instance is gone; a second one (as after a restart) finds the same state.
            let second = try SQLiteJobStore(directory: directory)
            #expect(try await second.job(job.id) == (try completed(job)))
            #expect(try await second.requestBody(for: job.id) == requestBody(for: "job-durable"))
            #expect(try await second.event(id: event.id) == event)
            let state = try await second.recover()
            #expect(state.finishedCounts[.completed] == 1)
            #expect(state.staleOutcomes == [job.id])
            #expect(try await second.integrityProblems() == [])
        }
    }

    @Test func openingTwiceRunsTheMigrationsOnlyOnce() async throws {
        try await withTemporaryDirectory { directory in
            let job = try makeJob("job-migrated")
            let first = try SQLiteJobStore(directory: directory)
            try await first.commit([insert(job)])
            let second = try SQLiteJobStore(directory: directory)
            #expect(try await second.containsJob(job.id))
            #expect(try await first.containsJob(job.id))
        }
    }

    @Test func aHealthyStoreHasNoIntegrityProblems() async throws {
        try await withStore { store, _ in
            #expect(try await store.integrityProblems() == [])
            try await store.commit([insert(try makeJob("job-healthy"))])
            #expect(try await store.integrityProblems() == [])
        }
    }

    @Test func aReadOnlyStoreReadsWhileAnotherInstanceWrites() async throws {
        try await withStore { writer, directory in
            let first = try makeJob("job-before-reader")
            try await writer.commit([insert(first)])

            let reader = try SQLiteJobStore(directory: directory, readOnly: true)
            #expect(try await reader.job(first.id) == first)

            let second = try makeJob("job-after-reader")
            try await writer.commit([insert(second)])
            #expect(try await reader.containsJob(second.id), "the reader must see later commits")
            #expect(try await reader.recover().activeJobs.map(\.id) == [first.id, second.id])

            // Reads and writes at the same time: neither blocks the other.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for index in 0..<50 { try await writer.commit([insert(try makeJob("job-concurrent-\(index)"))]) }
                }
                group.addTask {
                    for _ in 0..<50 { _ = try await reader.recover() }
                }
                try await group.waitForAll()
            }
            #expect(try await reader.recover().activeJobs.count == 52)
            #expect(try await reader.integrityProblems() == [])
        }
    }

    @Test func aReadOnlyStoreOpensADatabaseNoWriterHasOpen() async throws {
        try await withTemporaryDirectory { directory in
            let job = try makeJob("job-closed-writer")
            do {
                let writer = try SQLiteJobStore(directory: directory)
                try await writer.commit([insert(job)])
            }
            // As a status command run while the daemon is stopped would.
            let reader = try SQLiteJobStore(directory: directory, readOnly: true)
            #expect(try await reader.job(job.id) == job)
        }
    }

    @Test func aReadOnlyStoreRefusesToWrite() async throws {
        try await withStore { writer, directory in
            try await writer.commit([insert(try makeJob("job-existing"))])
            let reader = try SQLiteJobStore(directory: directory, readOnly: true)
            await #expect(throws: (any Error).self) { try await reader.commit([insert(try makeJob("job-sneaky"))]) }
            #expect(try await writer.containsJob(JobID(trusted: "job-sneaky")) == false)
        }
    }
}

@Suite(.timeLimit(.minutes(2)))
struct SQLiteJobStoreJobTests {
    @Test func aQueuedJobComesBackFieldForFieldWithItsRequestBody() async throws {
        try await withStore { store, _ in
            let job = try makeJob("job-queued")
            try await store.commit([insert(job)])

            let state = try await store.recover()
            #expect(state.activeJobs == [job])
            #expect(state.pendingDeliveries.isEmpty)
            #expect(state.staleOutcomes.isEmpty)
            #expect(state.finishedCounts.isEmpty)
            #expect(try await store.job(job.id) == job)
            #expect(try await store.requestBody(for: job.id) == requestBody(for: "job-queued"))
            #expect(try await store.containsJob(job.id))
            #expect(try await store.containsJob(JobID(trusted: "job-other")) == false)
            #expect(try await store.job(JobID(trusted: "job-other")) == nil)
            #expect(try await store.requestBody(for: JobID(trusted: "job-other")) == nil)
            #expect(try await store.outcome(for: job.id) == nil, "no event yet, so no outcome")
        }
    }

    @Test func aJobWithoutMetadataOrParametersRoundTrips() async throws {
        try await withStore { store, _ in
            let job = Job(
                id: JobID(trusted: "job-bare"),
                phase: .queued,
                model: seedanceModel,
                callbackURLs: [],
                metadata: nil,
                acceptedAt: Timestamp(millisecondsSinceEpoch: 0),
                sourceName: "bare.json",
                parameters: GenerationParameters()
            )
            try await store.commit([insert(job)])
            #expect(try await store.job(job.id) == job)
        }
    }

    @Test func aSourceIsUnsettledUntilItsSettlementIsCommitted() async throws {
        try await withStore { store, _ in
            let job = try makeJob("job-source")
            try await store.commit([insert(job)])
            let unsettled = try await store.recover().unsettledSources
            try #require(unsettled.count == 1)
            #expect(unsettled[0].jobID == job.id)
            #expect(unsettled[0].source == source(for: job))

            try await store.commit([.sourceSettled(job.id)])
            let after = try await store.recover()
            #expect(after.unsettledSources.isEmpty)
            #expect(after.activeJobs == [job], "settling the file does not change the job")
        }
    }

    @Test func activeJobsComeBackInArrivalOrder() async throws {
        try await withStore { store, _ in
            let names = ["job-c", "job-a", "job-b"]
            for name in names { try await store.commit([insert(try makeJob(name))]) }
            #expect(try await store.recover().activeJobs.map(\.id.rawValue) == names)
        }
    }

    @Test func aGeneratingJobRoundTripsEveryField() async throws {
        try await withStore { store, _ in
            let job = try makeJob("job-generating")
            try await store.commit([insert(job)])
            var submitting = job
            submitting.phase = .submitting
            submitting.submitAttempts = 2
            submitting.submitAllowance = 2
            try await store.commit([.updateJob(submitting)])
            #expect(try await store.recover().activeJobs == [submitting])

            var generating = submitting
            generating.phase = .generating
            generating.generationID = "gen_0123456789"
            generating.submittedAt = referenceTime + .milliseconds(1_501)
            generating.nextActionAt = referenceTime + .milliseconds(31_999)
            generating.upstreamStatus = "generating"
            generating.polls = 7
            generating.consecutivePollFailures = 2
            generating.consecutiveNotFound = 1
            try await store.commit([.updateJob(generating)])

            #expect(try await store.job(job.id) == generating)
            let state = try await store.recover()
            #expect(state.activeJobs == [generating])
            #expect(state.staleOutcomes.isEmpty, "an unfinished job has no outcome file")
        }
    }

    /// Usage figures are stored as the API spelled them, never through a floating-point value.
    @Test(arguments: [("120000", "0.06"), ("0.10", "1e-3"), ("-0", "12345678901234567890.5"), ("1E+2", "0")])
    func aCompletedJobKeepsItsUsageNumbersExactly(credits: String, usd: String) async throws {
        try await withStore { store, _ in
            let job = try makeJob("job-usage")
            try await store.commit([insert(job)])
            var done = try completed(job)
            done.usage = Usage(creditsUsed: try number(credits), usdSpent: try number(usd))
            try await store.commit([.updateJob(done)])

            let stored = try #require(try await store.job(job.id))
            #expect(stored == done)
            #expect(stored.usage?.creditsUsed?.text == credits)
            #expect(stored.usage?.usdSpent?.text == usd)
        }
    }

    @Test func aCompletedJobLeavesTheActiveJobsAndIsCounted() async throws {
        try await withStore { store, _ in
            let job = try makeJob("job-completed")
            let other = try makeJob("job-still-queued")
            try await store.commit([insert(job), insert(other)])
            let done = try completed(job)
            try await store.commit([.updateJob(done)])

            #expect(try await store.job(job.id) == done)
            #expect(try await store.job(job.id)?.usage?.usdSpent?.text == "0.06")
            #expect(try await store.job(job.id)?.usage?.creditsUsed?.text == "120000")
            let state = try await store.recover()
            #expect(state.activeJobs == [other])
            #expect(state.finishedCounts[.completed] == 1)
            #expect(state.finishedCounts[.failed] == nil)
            #expect(try await store.containsJob(job.id), "finished jobs are still known (duplicate ids)")
        }
    }

    @Test func aFailedJobKeepsItsFailureCodeAndMessage() async throws {
        try await withStore { store, _ in
            let job = try makeJob("job-failed")
            try await store.commit([insert(job)])
            var failed = job
            failed.phase = .failed
            failed.submitAttempts = 1
            failed.generationID = "gen-failed"
            failed.upstreamStatus = "generating"
            failed.finishedAt = referenceTime + .seconds(90)
            failed.failure = JobFailure(code: .generationFailed, message: "upstream said: \"content policy\" — ✗\nline 2")
            try await store.commit([.updateJob(failed)])

            #expect(try await store.job(job.id) == failed)
            let state = try await store.recover()
            #expect(state.activeJobs.isEmpty)
            #expect(state.finishedCounts[.failed] == 1)
        }
    }

    @Test func updatingAnUnknownJobThrowsAndRollsBackItsWholeCommit() async throws {
        try await withStore { store, _ in
            let innocent = try makeJob("job-in-same-commit")
            let unknown = try makeJob("job-never-inserted")
            await #expect(throws: StoreError.self) {
                try await store.commit([insert(innocent), .updateJob(unknown)])
            }
            #expect(try await store.containsJob(innocent.id) == false, "a commit is one transaction")
            #expect(try await store.containsJob(unknown.id) == false)
        }
    }

    @Test func anEmptyCommitIsANoOp() async throws {
        try await withStore { store, _ in
            try await store.commit([])
            #expect(try await store.recover().activeJobs.isEmpty)
        }
    }
}

@Suite(.timeLimit(.minutes(2)))
struct SQLiteJobStoreEventTests {
    static let urls = ["https://hooks.example.com/a", "https://hooks.example.org/b"]

    /// A job that finished, with its event and deliveries, committed as the finisher does.
    private func finishedJob(in store: SQLiteJobStore, id: String = "job-event") async throws
        -> (job: Job, event: WebhookEvent, deliveries: [Delivery])
    {
        let job = try makeJob(id)
        try await store.commit([insert(job), .sourceSettled(job.id)])
        let done = try completed(job)
        let event = makeEvent(for: done, id: "msg_" + id)
        let deliveries = makeDeliveries(for: event, urls: Self.urls)
        try await store.commit([.updateJob(done), .insertEvent(event, deliveries: deliveries)])
        return (done, event, deliveries)
    }

    @Test func anEventComesBackWithIdenticalBytes() async throws {
        try await withStore { store, _ in
            let (_, event, _) = try await finishedJob(in: store)
            let stored = try #require(try await store.event(id: event.id))
            #expect(stored == event)
            #expect(stored.body == event.body)
            #expect(try await store.event(id: "msg_unknown") == nil)
        }
    }

    @Test func pendingDeliveriesAreRecoveredUntilTheyAreFinal() async throws {
        try await withStore { store, _ in
            let (_, _, deliveries) = try await finishedJob(in: store)
            let pending = try await store.recover().pendingDeliveries
            #expect(Set(pending) == Set(deliveries))
            #expect(pending.count == 2)

            var delivered = deliveries[0]
            delivered.state = .delivered
            delivered.attempts = 2
            delivered.lastAttemptAt = referenceTime + .seconds(70)
            delivered.lastStatusCode = 204
            delivered.lastError = nil
            delivered.deliveredAt = referenceTime + .milliseconds(70_250)
            delivered.nextAttemptAt = nil
            try await store.commit([.updateDelivery(delivered)])
            #expect(try await store.recover().pendingDeliveries == [deliveries[1]])

            var retrying = deliveries[1]
            retrying.attempts = 1
            retrying.lastAttemptAt = referenceTime + .seconds(71)
            retrying.lastStatusCode = 503
            retrying.lastError = "HTTP 503"
            retrying.nextAttemptAt = referenceTime + .seconds(101)
            try await store.commit([.updateDelivery(retrying)])
            #expect(try await store.recover().pendingDeliveries == [retrying], "a retry stays pending")

            let snapshot = try #require(try await store.outcome(for: deliveries[0].jobID))
            #expect(snapshot.deliveries == [delivered, retrying])
        }
    }

    @Test func theOutcomeIsStaleAfterEachChangeUntilThatVersionIsWritten() async throws {
        try await withStore { store, _ in
            let (job, event, deliveries) = try await finishedJob(in: store)

            // Finishing the job and recording its event make the outcome file out of date.
            #expect(try await store.recover().staleOutcomes == [job.id])
            let first = try #require(try await store.outcome(for: job.id))
            #expect(first.job == job)
            #expect(first.event == event)
            #expect(first.deliveries == deliveries)
            try await store.commit([.outcomeWritten(job.id, version: first.version)])
            #expect(try await store.recover().staleOutcomes.isEmpty)

            // A delivery's progress belongs in the file too.
            var delivered = deliveries[0]
            delivered.state = .delivered
            delivered.attempts = 1
            delivered.deliveredAt = referenceTime + .seconds(61)
            delivered.lastStatusCode = 200
            delivered.nextAttemptAt = nil
            try await store.commit([.updateDelivery(delivered)])
            #expect(try await store.recover().staleOutcomes == [job.id])
            let second = try #require(try await store.outcome(for: job.id))
            #expect(second.version > first.version)
            #expect(second.deliveries == [delivered, deliveries[1]])
            try await store.commit([.outcomeWritten(job.id, version: second.version)])
            #expect(try await store.recover().staleOutcomes.isEmpty)
        }
    }

    @Test func anOlderWrittenVersionDoesNotClearANewerStaleness() async throws {
        try await withStore { store, _ in
            let (job, _, deliveries) = try await finishedJob(in: store)
            let snapshot = try #require(try await store.outcome(for: job.id))

            // The delivery changes while the writer is still rendering the older snapshot.
            var failed = deliveries[1]
            failed.state = .gone
            failed.attempts = 1
            failed.lastStatusCode = 410
            failed.lastError = "HTTP 410 Gone"
            failed.nextAttemptAt = nil
            try await store.commit([.updateDelivery(failed)])
            try await store.commit([.outcomeWritten(job.id, version: snapshot.version)])
            #expect(try await store.recover().staleOutcomes == [job.id])

            let newer = try #require(try await store.outcome(for: job.id))
            try await store.commit([.outcomeWritten(job.id, version: newer.version)])
            #expect(try await store.recover().staleOutcomes.isEmpty)
            // A late report of the older version does not make the newer file look stale again,
            // nor hide a later change.
            try await store.commit([.outcomeWritten(job.id, version: snapshot.version)])
            #expect(try await store.recover().staleOutcomes.isEmpty)
        }
    }

    @Test func aRejectedJobWithAnEventIsNeverStaleAndHasNoRequestBody() async throws {
        try await withStore { store, _ in
            var job = Job(
                id: JobID(trusted: "01JDEXAMPLEREJECTED0000000"),
                phase: .rejected,
                model: "",
                callbackURLs: Self.urls,
                metadata: try json(#"{"ticket":7}"#).objectValue,
                acceptedAt: referenceTime,
                sourceName: "broken.json",
                parameters: GenerationParameters()
            )
            job.failure = JobFailure(code: .rejected, message: "prompt: missing")
            job.finishedAt = referenceTime
            let errorDocument = Array("{\n  \"errors\": []\n}\n".utf8)
            let rejectedSource = SourceFile(
                name: "broken.json",
                sha256: String(repeating: "0f", count: 32),
                disposition: .reject,
                errorDocument: errorDocument
            )
            let event = makeEvent(for: job, id: "msg_rejected", type: .rejected)
            let deliveries = makeDeliveries(for: event, urls: Self.urls)
            try await store.commit([
                .insertJob(job, requestBody: [], source: rejectedSource),
                .insertEvent(event, deliveries: deliveries),
            ])

            #expect(try await store.job(job.id) == job)
            #expect(try await store.requestBody(for: job.id) == nil)
            var state = try await store.recover()
            #expect(state.activeJobs.isEmpty)
            #expect(state.staleOutcomes.isEmpty)
            #expect(state.finishedCounts[.rejected] == 1)
            #expect(Set(state.pendingDeliveries) == Set(deliveries))
            try #require(state.unsettledSources.count == 1)
            #expect(state.unsettledSources[0].jobID == job.id)
            #expect(state.unsettledSources[0].source == rejectedSource)

            var delivered = deliveries[0]
            delivered.state = .delivered
            delivered.attempts = 1
            delivered.nextAttemptAt = nil
            try await store.commit([.updateDelivery(delivered), .sourceSettled(job.id)])
            state = try await store.recover()
            #expect(state.staleOutcomes.isEmpty, "rejections have no outcome file")
            #expect(state.unsettledSources.isEmpty)
            #expect(state.pendingDeliveries == [deliveries[1]])
        }
    }
}

@Suite(.timeLimit(.minutes(3)))
struct SQLiteJobStoreGroupCommitTests {
    @Test func fiveHundredConcurrentCommitsAllSucceedAndAllLand() async throws {
        try await withStore { store, directory in
            let jobs = try (0..<500).map { try makeJob(String(format: "job-%03d", $0)) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for job in jobs {
                    group.addTask { try await store.commit([insert(job)]) }
                }
                try await group.waitForAll()
            }
            let state = try await store.recover()
            #expect(state.activeJobs.count == 500)
            #expect(Set(state.activeJobs.map(\.id)) == Set(jobs.map(\.id)))
            #expect(state.unsettledSources.count == 500)
            for job in jobs.prefix(5) {
                #expect(try await store.requestBody(for: job.id) == requestBody(for: job.id.rawValue))
            }
            // Each caller returned only after its change was durable: a second instance sees all.
            let reopened = try SQLiteJobStore(directory: directory)
            #expect(try await reopened.recover().activeJobs.count == 500)
            #expect(try await store.integrityProblems() == [])
        }
    }

    /// The pipeline's reads run on the writer's connection, whose page cache outlives commits: they
    /// must still see what another instance (an operator command) committed in between.
    @Test func readsOnTheWritersConnectionSeeAnotherInstancesCommits() async throws {
        try await withStore { store, directory in
            let first = try makeJob("job-warm-first")
            try await store.commit([insert(first)])
            #expect(try await store.job(first.id) == first)  // its pages are now in the writer's cache

            let other = try SQLiteJobStore(directory: directory)
            let second = try makeJob("job-warm-second")
            try await other.commit([insert(second)])
            #expect(try await store.containsJob(second.id), "a commit by another connection must be seen")
            #expect(try await store.job(second.id) == second)
            let facts = try await store.intakeFacts(
                identities: [], sha256s: [], jobIDs: [first.id, second.id, JobID(trusted: "job-warm-none")],
                acceptedSince: referenceTime
            )
            #expect(facts.existing == [first.id, second.id])
        }
    }

    /// Reads queued behind grouped commits on the one writer connection: none waits on the other
    /// (GRDB would trap on a read inside a write), and each read sees the commit made before it.
    @Test func readsInterleavedWithGroupedCommitsSeeEachCommitBeforeThem() async throws {
        try await withStore { store, _ in
            let jobs = try (0..<200).map { try makeJob(String(format: "job-interleaved-%03d", $0)) }
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for job in jobs {
                    group.addTask {
                        try await store.commit([insert(job)])
                        let read = try await store.job(job.id)
                        let body = try await store.requestBody(for: job.id)
                        return read == job && body == requestBody(for: job.id.rawValue)
                    }
                }
                for try await seen in group { #expect(seen) }
            }
            #expect(try await store.recover().activeJobs.count == 200)
        }
    }

    @Test func aFailingCommitThrowsToItsCaller() async throws {
        try await withStore { store, _ in
            let job = try makeJob("job-duplicate")
            try await store.commit([insert(job)])
            await #expect(throws: (any Error).self) { try await store.commit([insert(job)]) }
            // The store is still usable afterwards.
            let next = try makeJob("job-after-failure")
            try await store.commit([insert(next)])
            #expect(try await store.recover().activeJobs.map(\.id) == [job.id, next.id])
        }
    }

    @Test func aFailingCommitFailsOnlyItsOwnCallerWhenGroupedWithOthers() async throws {
        try await withStore { store, _ in
            let existing = try makeJob("job-existing")
            try await store.commit([insert(existing)])
            let good = try (0..<200).map { try makeJob(String(format: "job-good-%03d", $0)) }

            // Duplicates interleaved with good commits, all at once: whatever batches the group
            // commit forms, each caller's outcome must be its own.
            let outcomes = await withTaskGroup(of: (String, Bool).self) { group in
                for (index, job) in good.enumerated() {
                    group.addTask {
                        do {
                            try await store.commit([insert(job), .sourceSettled(job.id)])
                            return (job.id.rawValue, true)
                        } catch {
                            return (job.id.rawValue, false)
                        }
                    }
                    if index % 20 == 10 {
                        group.addTask {
                            do {
                                try await store.commit([insert(existing)])
                                return ("duplicate-\(index)", true)
                            } catch {
                                return ("duplicate-\(index)", false)
                            }
                        }
                    }
                }
                var outcomes: [String: Bool] = [:]
                for await (name, succeeded) in group { outcomes[name] = succeeded }
                return outcomes
            }
            let failedGood = good.map(\.id.rawValue).filter { outcomes[$0] != true }
            #expect(failedGood.isEmpty, "good commits failed with a bad one: \(failedGood.count)")
            #expect(outcomes.filter { $0.key.hasPrefix("duplicate-") }.allSatisfy { !$0.value })
            let state = try await store.recover()
            #expect(state.activeJobs.count == 201)
            #expect(state.unsettledSources.map(\.jobID) == [existing.id])
        }
    }
}

@Suite(.timeLimit(.minutes(2)))
struct SQLiteGroupCommitCancellationTests {
    /// A leader cancelled while it waits for a locked database (a shutdown during an outage) gets
    /// its cancellation; the commits queued behind it were not cancelled and must land.
    @Test func aCancelledLeaderHandsItsFollowersOnInsteadOfItsCancellation() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteJobStore(directory: directory, logger: nil, clock: nil, busyTimeout: 0)
            // Another connection holds the write lock (on a thread of its own, until released):
            // every write of the store fails as busy meanwhile.
            let blocker = try DatabaseQueue(path: directory + "/videospool.sqlite")
            let release = DispatchSemaphore(value: 0)
            let (locked, lockTaken) = AsyncStream.makeStream(of: Void.self)
            Thread {
                try? blocker.inDatabase { db in
                    try db.execute(sql: "BEGIN IMMEDIATE")
                    lockTaken.yield()
                    release.wait()
                    try db.execute(sql: "COMMIT")
                }
            }.start()
            _ = try await locked.collect(1)

            let leader = Task { try await store.commit([insert(try makeJob("job-leader"))]) }
            try await eventually("the leader waits for the locked database") {
                if case .unavailable = store.availability { true } else { false }
            }
            let followers = (0..<3).map { index in
                Task { try await store.commit([insert(try makeJob("job-follower-\(index)"))]) }
            }
            try await eventually("three commits queue behind the leader") { store.queuedCommitCount == 3 }

            leader.cancel()
            await #expect(throws: CancellationError.self) { try await leader.value }
            release.signal()
            for follower in followers { try await follower.value }
            #expect(try await store.recover().activeJobs.map(\.id.rawValue).sorted()
                == ["job-follower-0", "job-follower-1", "job-follower-2"])
        }
    }
}
