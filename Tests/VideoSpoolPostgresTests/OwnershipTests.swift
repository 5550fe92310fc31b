import Foundation
import Logging
import Synchronization
import Testing
import VideoSpoolCore
import VideoSpoolPostgres
import VideoSpoolTesting

/// Claims: each released job goes to exactly one daemon, under a new fence.
@Suite(.timeLimit(.minutes(10)), postgresAvailable)
struct ClaimTests {
    @Test func eightClaimersTakeTenThousandReleasedJobsEachExactlyOnce() async throws {
        try await withDatabase { runner in
            let producer = try await runner.registeredStore(pid: 1)
            let count = 10_000
            let batch = 500
            for start in stride(from: 0, to: count, by: batch) {
                let jobs = try (start..<(start + batch)).map { try makeJob(String(format: "job-%05d", $0)) }
                // As the intake leaves them: the spool files removed.
                try await producer.commit(jobs.map { insert($0) } + jobs.map { .sourceSettled($0.id) })
            }
            try await producer.releaseOwnership()

            var claimers: [PostgresJobStore] = []
            for index in 0..<8 {
                claimers.append(
                    try await runner.registeredStore(
                        storeConfiguration(runner.server, database: runner.database, maximumConnections: 2),
                        pid: Int32(10 + index)
                    )
                )
            }
            let started = ContinuousClock.now
            let claimed = try await withThrowingTaskGroup(of: [JobID].self) { group in
                for claimer in claimers {
                    group.addTask {
                        var mine: [JobID] = []
                        while true {
                            let state = try await claimer.claimReleasedWork(ClaimLimits(queued: 100, others: 100))
                            if state.activeJobs.isEmpty { break }
                            #expect(state.activeJobs.allSatisfy { $0.fence == 2 && $0.phase == .queued })
                            mine += state.activeJobs.map(\.id)
                        }
                        return mine
                    }
                }
                var all: [[JobID]] = []
                for try await mine in group { all.append(mine) }
                return all
            }
            let elapsed = ContinuousClock.now - started
            let all = claimed.flatMap { $0 }
            #expect(all.count == count, "claimed \(all.count) of \(count)")
            #expect(Set(all).count == count, "a job was claimed twice")
            #expect(claimed.filter { !$0.isEmpty }.count > 1, "the claimers shared the work")
            // In the database: every job owned, each changed hands exactly twice (released, claimed).
            let schema = "videospool"
            #expect(try runner.sql("SELECT count(*) FROM \(schema).jobs WHERE owner IS NULL") == "0")
            #expect(try runner.sql("SELECT count(*) FROM \(schema).jobs WHERE fence <> 2") == "0")
            print(
                "claim throughput: \(count) jobs by 8 claimers in \(elapsed) = "
                    + "\(Int(Double(count) / elapsed.secondsDouble)) jobs/s"
            )
        }
    }

    @Test func recoveryTakesABacklogLargerThanOneRoundInArrivalOrder() async throws {
        try await withDatabase { runner in
            let producer = try await runner.registeredStore(pid: 1)
            let jobs = try (0..<2_500).map { try makeJob(String(format: "job-backlog-%05d", $0)) }
            for batch in stride(from: 0, to: jobs.count, by: 500) {
                let slice = jobs[batch..<(batch + 500)]
                try await producer.commit(slice.map { insert($0) } + slice.map { .sourceSettled($0.id) })
            }
            try await producer.releaseOwnership()
            let restarted = try await runner.registeredStore(pid: 2)
            let recovered = try await restarted.recover()
            #expect(recovered.activeJobs.map(\.id) == jobs.map(\.id))
        }
    }

    @Test func aClaimTakesEachKindOfReleasedWorkUpToItsLimitOldestFirst() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(pid: 1)
            let queued = try (0..<3).map { try makeJob("job-q\($0)") }
            var generating = try makeJob("job-generating")
            let finished = try makeJob("job-finished")
            try await a.commit(queued.map { insert($0) } + [insert(generating), insert(finished)])
            generating = submitting(generating)
            generating.phase = .generating
            generating.generationID = "gen-1"
            var done = try completed(finished)
            let event = makeEvent(for: done)
            let deliveries = makeDeliveries(for: event, urls: ["https://hooks.example.com/a"])
            try await a.commit([.updateJob(generating), .updateJob(done), .insertEvent(event, deliveries: deliveries)])
            try await a.releaseOwnership()

            let b = try await runner.registeredStore(pid: 2)
            let first = try await b.claimReleasedWork(ClaimLimits(queued: 2, others: 0))
            #expect(first.activeJobs.map(\.id) == [queued[0].id, queued[1].id])
            #expect(first.pendingDeliveries.isEmpty)
            let second = try await b.claimReleasedWork(ClaimLimits(queued: 5, others: 5))
            #expect(Set(second.activeJobs.map(\.id)) == [queued[2].id, generating.id])
            #expect(second.pendingDeliveries.map(\.id) == deliveries.map(\.id))
            done.fence = try #require(try await b.job(done.id)).fence
            #expect(second.pendingDeliveries.allSatisfy { $0.fence == done.fence && done.fence == 2 })
            let third = try await b.claimReleasedWork(ClaimLimits(queued: 5, others: 5))
            #expect(third.activeJobs.isEmpty && third.pendingDeliveries.isEmpty, "nothing is claimed twice")
        }
    }

    @Test func aJobNotDueYetIsNotClaimedUntilItIs() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(pid: 1)
            var job = try makeJob("job-later")
            try await a.commit([insert(job)])
            job.nextActionAt = referenceTime + .seconds(3600)
            try await a.commit([.updateJob(job)])
            try await a.releaseOwnership()
            let b = try await runner.registeredStore(pid: 2)
            #expect(try await b.claimReleasedWork(ClaimLimits(queued: 10, others: 10)).activeJobs.isEmpty)
            // By the database's clock, an hour has passed.
            try runner.sql("UPDATE videospool.jobs SET run_after = run_after - interval '1 hour'")
            let claimed = try await b.claimReleasedWork(ClaimLimits(queued: 10, others: 10)).activeJobs
            #expect(claimed.map(\.id) == [job.id])
        }
    }

    @Test func anOperatorTakesAFreeJobButNotOneAnotherLiveDaemonHolds() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(pid: 1)
            let b = try await runner.registeredStore(pid: 2)
            let held = try makeJob("job-held-by-a")
            let free = try makeJob("job-free")
            try await a.commit([insert(held), insert(free)])
            var finished = try completed(free)
            finished.fence = 0
            try await a.commit([.updateJob(finished)])  // given back: owes nothing

            guard case .heldElsewhere(let job, let holder) = try await b.claimJob(held.id) else {
                Issue.record("a job a live daemon holds must not be taken")
                return
            }
            #expect(job.id == held.id)
            #expect(holder == spoolInstance(pid: 1))
            guard case .held(let taken, let pending, let newlyClaimed) = try await b.claimJob(free.id) else {
                Issue.record("a free job must be taken")
                return
            }
            #expect(taken.fence == 2 && pending.isEmpty)
            #expect(newlyClaimed, "it was free: the daemon's pipeline does not know it yet")
            // Taking it again changes nothing.
            guard case .held(let again, _, let againNewly) = try await b.claimJob(free.id) else {
                Issue.record("a job already held must stay held")
                return
            }
            #expect(again.fence == taken.fence)
            #expect(!againNewly, "already this daemon's")
            guard case .notFound = try await b.claimJob(JobID(trusted: "job-none")) else {
                Issue.record("an unknown job is not found")
                return
            }
        }
    }

    @Test func cancelRequestsReachTheDaemonThatHoldsTheJobOnce() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(pid: 1)
            let operatorStore = try await runner.registeredStore(pid: 2)
            let job = try makeJob("job-to-cancel")
            try await a.commit([insert(job)])
            try await operatorStore.commit([.requestCancel(job.id)])
            #expect(try await operatorStore.claimReleasedWork(ClaimLimits(queued: 10, others: 10)).cancelRequests == [])
            #expect(try await a.claimReleasedWork(ClaimLimits(queued: 10, others: 10)).cancelRequests == [job.id])
            #expect(try await a.claimReleasedWork(ClaimLimits(queued: 10, others: 10)).cancelRequests == [])
        }
    }

    @Test func aReplacedEarlierRunGivesItsJobsBackAtOnce() async throws {
        try await withDatabase { runner in
            let old = try await runner.registeredStore(pid: 1)
            let job = try makeJob("job-of-old-run")
            try await old.commit([insert(job)])
            let new = try await runner.store()
            let registration = try await new.register(spoolInstance(pid: 1), replacing: old.instanceID)
            #expect(registration.id != old.instanceID)
            #expect(registration.replaced.map(\.jobs) == [1])
            #expect(registration.replaced.map(\.id) == [try #require(old.instanceID)])
            #expect(try await new.recover().activeJobs.map(\.id) == [job.id])
            #expect(try await old.renewLease() == .lost)
        }
    }
}

/// A daemon whose lease ran out loses its jobs, and none of its writes lands afterwards.
@Suite(.timeLimit(.minutes(3)), postgresAvailable)
struct FencingTests {
    /// Waits (by the database's clock, through the reaper itself) until `instance` is released.
    static func reap(_ instance: InstanceID?, by store: PostgresJobStore) async throws -> ReleasedInstance {
        let instance = try #require(instance)
        var found: ReleasedInstance?
        try await eventually("the reaper to release \(instance)") {
            found = try await store.releaseExpiredInstances().first { $0.id == instance }
            return found != nil
        }
        return try #require(found)
    }

    /// A daemon reaped while it was cut off must not take work under its dead identity when it
    /// gets through again, and a job it inserted meanwhile is not stranded under that identity.
    @Test func aReapedDaemonClaimsNothingAndAJobItInsertsIsReleased() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(
                storeConfiguration(runner.server, database: runner.database, lease: .seconds(1)),
                pid: 1
            )
            let b = try await runner.registeredStore(pid: 2)
            let free = try makeJob("job-free")
            try await b.commit([insert(free)])
            try await b.releaseOwnership()
            _ = try await Self.reap(a.instanceID, by: b)
            let b2 = try await runner.registeredStore(pid: 3)

            #expect(try await a.claimReleasedWork(ClaimLimits(queued: 10, others: 10)).activeJobs.isEmpty)
            await #expect(throws: LeaseLost.self) { _ = try await a.claimJob(free.id) }
            // Its intake raced the reaper: the job names an owner that no longer exists...
            let stranded = try makeJob("job-inserted-by-the-dead")
            try await a.commit([insert(stranded)])
            // ...until the next reaper round gives it back.
            _ = try await b2.releaseExpiredInstances()
            let claimed = try await b2.claimReleasedWork(ClaimLimits(queued: 10, others: 10))
            #expect(Set(claimed.activeJobs.map(\.id)) == [free.id, stranded.id])
        }
    }

    @Test func afterAReapEveryFencedWriteOfTheOldOwnerThrowsLeaseLostAndChangesNothing() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(
                storeConfiguration(runner.server, database: runner.database, lease: .seconds(1)),
                pid: 1
            )
            let b = try await runner.registeredStore(pid: 2)
            var generating = try makeJob("job-generating")
            let finishing = try makeJob("job-finishing")
            try await a.commit([insert(generating), insert(finishing)])
            generating = submitting(generating)
            generating.phase = .generating
            generating.generationID = "gen-a"
            let done = try completed(finishing)
            let event = makeEvent(for: done)
            let deliveries = makeDeliveries(for: event, urls: ["https://hooks.example.com/a", "https://b.example/b"])
            try await a.commit([.updateJob(generating), .updateJob(done), .insertEvent(event, deliveries: deliveries)])

            let released = try await Self.reap(a.instanceID, by: b)
            #expect(released.jobs == 2 && released.host == "host-1" && released.pid == 1)
            let claimed = try await b.claimReleasedWork(ClaimLimits(queued: 10, others: 10))
            #expect(claimed.activeJobs.map(\.id) == [generating.id])
            #expect(Set(claimed.pendingDeliveries.map(\.id)) == Set(deliveries.map(\.id)))
            let before = (
                try await b.job(generating.id), try await b.outcome(for: done.id)?.deliveries,
                try await b.jobReport(done.id)?.events
            )

            var polled = generating
            polled.polls = 5
            var completedLate = try completed(generating)
            completedLate.fence = generating.fence
            var delivered = deliveries[0]
            delivered.state = .delivered
            delivered.attempts = 1
            let fenced: [(String, [StoreChange])] = [
                ("updateJob", [.updateJob(polled)]),
                ("updateDelivery", [.updateDelivery(delivered)]),
                ("insertEvent", [.insertEvent(makeEvent(for: completedLate), deliveries: [])]),
                ("addDelivery", [.addDelivery(makeDeliveries(for: event, urls: ["https://c.example/c"])[0])]),
                ("terminal update with its event", [
                    .updateJob(completedLate),
                    .insertEvent(makeEvent(for: completedLate, id: "msg_late"), deliveries: []),
                ]),
            ]
            for (name, changes) in fenced {
                await #expect(throws: LeaseLost.self, "\(name)") { try await a.commit(changes) }
            }
            let after = (
                try await b.job(generating.id), try await b.outcome(for: done.id)?.deliveries,
                try await b.jobReport(done.id)?.events
            )
            #expect(after.0 == before.0)
            #expect(after.1 == before.1)
            #expect(after.2 == before.2)
            #expect(try await a.event(id: "msg_late") == nil)

            // Grouped with a change that is fine, the lost write fails alone.
            let fresh = try makeJob("job-fresh")
            let lostChange = StoreChange.updateJob(polled)
            async let lost = attempt { try await a.commit([lostChange]) }
            async let fine = attempt { try await a.commit([insert(fresh)]) }
            let outcomes = await (lost, fine)
            #expect(throws: LeaseLost.self) { try outcomes.0.get() }
            try outcomes.1.get()
            #expect(try await b.containsJob(fresh.id))

            #expect(try await a.renewLease() == .lost)
            let old = a.instanceID
            let again = try await a.register(spoolInstance(pid: 1), replacing: nil)
            #expect(again.id != old)
            #expect(try await a.renewLease() == .renewed(duration: .seconds(1)))
        }
    }

    @Test func theNewOwnerWritesUnderItsOwnFence() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(
                storeConfiguration(runner.server, database: runner.database, lease: .seconds(1)),
                pid: 1
            )
            let b = try await runner.registeredStore(pid: 2)
            try await a.commit([insert(try makeJob("job-moving"))])
            _ = try await Self.reap(a.instanceID, by: b)
            var job = try #require(try await b.claimReleasedWork(ClaimLimits(queued: 1, others: 0)).activeJobs.first)
            #expect(job.fence == 2)
            job = submitting(job)
            try await b.commit([.updateJob(job)])
            #expect(try await b.job(job.id)?.phase == .submitting)
            // A stale copy of its own (an older fence) is refused too.
            var stale = job
            stale.fence = 1
            await #expect(throws: LeaseLost.self) { try await b.commit([.updateJob(stale)]) }
        }
    }

    /// A group commit writes many jobs' updates with one statement; each row is still fenced alone.
    @Test func jobUpdatesWrittenTogetherAreEachFencedAndEachRecordTheirTransition() async throws {
        try await withDatabase { runner in
            let store = try await runner.registeredStore()
            let jobs = try (0..<3).map { try makeJob("job-batch-\($0)") }
            try await store.commit(jobs.map { insert($0) })
            let sent = jobs.map(submitting)
            try await store.commit(sent.map { .updateJob($0) })
            for job in sent {
                #expect(try await store.job(job.id) == job)
                let transitions = try #require(try await store.jobReport(job.id)).transitions
                #expect(transitions.map(\.to) == [.queued, .submitting])
                #expect(transitions.last?.from == .queued)
            }

            // One stale row (an older fence) fails the whole commit and changes none of them.
            var generating = sent[0]
            generating.phase = .generating
            generating.generationID = "gen-batch"
            var stale = try completed(sent[1])
            stale.fence = sent[1].fence - 1
            await #expect(throws: LeaseLost(jobs: [stale.id])) {
                try await store.commit([.updateJob(generating), .updateJob(stale)])
            }
            #expect(try await store.job(sent[0].id) == sent[0])
            #expect(try await store.job(sent[1].id) == sent[1])
            #expect(try await store.jobReport(sent[0].id)?.transitions.count == 2)

            // Every field a poller sets, NULLs included, comes back as written.
            let done = try completed(sent[2])
            var failed = generating
            failed.phase = .failed
            failed.failure = JobFailure(code: "generation_failed", message: "upstream said \"no\" ✓\n")
            failed.finishedAt = referenceTime + .seconds(90)
            try await store.commit([.updateJob(done), .updateJob(failed)])
            // Both ended and owe nothing, so the transaction gave them back: a new fence, else as written.
            for written in [done, failed] {
                var read = try #require(try await store.job(written.id))
                #expect(read.fence == written.fence + 1)
                read.fence = written.fence
                #expect(read == written)
            }
            #expect(try await store.jobReport(failed.id)?.transitions.last?.detail == failed.failure?.code.description)
        }
    }

    /// New jobs, webhook events and delivery updates of many jobs go out one statement per kind
    /// too; each row is still checked alone, and one bad row fails the commit and writes nothing.
    @Test func newJobsEventsAndDeliveryUpdatesWrittenTogetherAreEachChecked() async throws {
        try await withDatabase { runner in
            let store = try await runner.registeredStore()
            var jobs = try (0..<2).map { try makeJob("job-together-\($0)") }
            var rejected = try makeJob("job-together-rejected")
            rejected.phase = .rejected
            rejected.failure = JobFailure(code: "invalid_request", message: "prompt is missing")
            rejected.finishedAt = referenceTime
            try await store.commit([insert(jobs[0], identity: "file-0")])

            // New jobs: a source already taken fails the batch, naming the job that took it.
            let clash = try makeJob("job-together-clash")
            await #expect(throws: SourceAlreadyTaken(jobID: jobs[0].id)) {
                try await store.commit([insert(jobs[1], identity: "file-1"), insert(clash, identity: "file-0")])
            }
            #expect(try await store.containsJob(jobs[1].id) == false)
            try await store.commit([insert(jobs[1], identity: "file-1"), insert(rejected)])
            #expect(try await store.job(jobs[1].id) == jobs[1])
            #expect(try await store.job(rejected.id)?.failure == rejected.failure)
            #expect(try await store.requestBody(for: jobs[1].id) == requestBody(for: jobs[1].id.rawValue))
            #expect(try await store.requestBody(for: rejected.id) == nil)
            #expect(try await store.jobReport(rejected.id)?.transitions.map(\.to) == [.rejected])
            #expect(try await store.jobTaken(fromSource: "file-1") == jobs[1].id)

            // Events: one whose deliveries carry a stale fence fails the batch.
            jobs = try jobs.map(completed)
            let events = jobs.map { makeEvent(for: $0) }
            let deliveries = events.map { makeDeliveries(for: $0, urls: ["https://a.example/a", "https://b.example/b"]) }
            await #expect(throws: LeaseLost(jobs: [jobs[1].id])) {
                try await store.commit([
                    .insertEvent(events[0], deliveries: deliveries[0]),
                    .insertEvent(events[1], deliveries: makeDeliveries(for: events[1], urls: ["https://a.example/a"], fence: -1)),
                ])
            }
            #expect(try await store.event(id: events[0].id) == nil)
            try await store.commit(
                jobs.indices.flatMap { [.updateJob(jobs[$0]), .insertEvent(events[$0], deliveries: deliveries[$0])] }
            )
            for index in jobs.indices {
                #expect(try await store.event(id: events[index].id) == events[index])
                let outcome = try #require(try await store.outcome(for: jobs[index].id))
                #expect(outcome.deliveries == deliveries[index])
                #expect(outcome.version == 2)
            }

            // Delivery updates: a stale fence fails the batch; a delivery that does not exist changes nothing.
            var delivered = deliveries.map { list in
                var first = list[0]
                first.state = .delivered
                first.attempts = 1
                first.lastStatusCode = 204
                first.deliveredAt = referenceTime + .seconds(61)
                return first
            }
            var stale = delivered[1]
            stale.fence = -1
            await #expect(throws: LeaseLost(jobs: [jobs[1].id])) {
                try await store.commit([.updateDelivery(delivered[0]), .updateDelivery(stale)])
            }
            #expect(try await store.outcome(for: jobs[0].id)?.deliveries == deliveries[0])
            let missing = Delivery(id: .init(eventID: "msg_nowhere", index: 0), jobID: rejected.id, url: "https://a.example/a", nextAttemptAt: nil)
            try await store.commit(delivered.map { .updateDelivery($0) } + [.updateDelivery(missing)])
            for index in jobs.indices {
                let outcome = try #require(try await store.outcome(for: jobs[index].id))
                #expect(outcome.deliveries == [delivered[index], deliveries[index][1]])
                #expect(outcome.version == 3)
            }

            // The last delivery of each ends what the jobs owe, so the commit gives them back.
            delivered = deliveries.map { list in
                var last = list[1]
                last.state = .failed
                last.attempts = 1
                last.lastError = "connection refused"
                return last
            }
            try await store.commit(delivered.map { .updateDelivery($0) })
            for job in jobs { #expect(try await store.job(job.id)?.fence == job.fence + 1) }
        }
    }
}

/// The database, not only the code, refuses a second POST without a committed decision.
@Suite(.timeLimit(.minutes(2)), postgresAvailable)
struct SubmitBudgetTests {
    @Test func theDatabaseRefusesASecondIntentEvenWhenTheCodeIsBypassed() async throws {
        try await withDatabase { runner in
            let store = try await runner.registeredStore()
            let job = try makeJob("job-budget")
            try await store.commit([insert(job), .updateJob(submitting(job))])
            #expect(try await store.job(job.id)?.submitAttempts == 1)

            // Raw SQL, as a bug or a hand would: the CHECK constraint refuses.
            #expect(throws: (any Error).self) {
                try runner.sql("UPDATE videospool.jobs SET phase = 'submitting', submit_attempts = 2 WHERE id = 'job-budget'")
            }
            do {
                try runner.sql("UPDATE videospool.jobs SET submit_attempts = submit_attempts + 1 WHERE id = 'job-budget'")
            } catch {
                #expect("\(error)".contains("submit_budget"), "the refusal names the constraint: \(error)")
            }
            // A raised allowance in the same transaction allows exactly one more.
            try runner.sql(
                """
                BEGIN;
                UPDATE videospool.jobs SET submit_allowance = submit_allowance + 1 WHERE id = 'job-budget';
                UPDATE videospool.jobs SET submit_attempts = submit_attempts + 1 WHERE id = 'job-budget';
                COMMIT;
                """
            )
            #expect(throws: (any Error).self) {
                try runner.sql("UPDATE videospool.jobs SET submit_attempts = 3 WHERE id = 'job-budget'")
            }
            #expect(try runner.sql("SELECT submit_attempts, submit_allowance FROM videospool.jobs") == "2|2")
        }
    }

    @Test func theStoreReportsARefusedIntentAsItsOwnErrorAndAppliesNothing() async throws {
        try await withDatabase { runner in
            let store = try await runner.registeredStore()
            let job = try makeJob("job-budget-code")
            let first = submitting(job)
            try await store.commit([insert(job), .updateJob(first)])
            var requeued = first
            requeued.phase = .queued
            var second = submitting(requeued)  // attempts 2, allowance still 1
            second.submitAllowance = 1
            await #expect(throws: SubmitBudgetExceeded(jobID: job.id, attempts: 2, allowance: 1)) {
                try await store.commit([.updateJob(second)])
            }
            #expect(try await store.job(job.id)?.submitAttempts == 1)
            // The decision committed with the requeue allows one more, and only one.
            requeued.submitAllowance = 2
            second.submitAllowance = 2
            try await store.commit([.updateJob(requeued), .updateJob(second)])
            var third = second
            third.phase = .queued
            third = submitting(third)
            await #expect(throws: SubmitBudgetExceeded.self) { try await store.commit([.updateJob(third)]) }
            #expect(try await store.job(job.id)?.submitAttempts == 2)
        }
    }
}

/// Facts from upstream land whoever holds the job; a job whose POST may be on the wire waits.
@Suite(.timeLimit(.minutes(3)), postgresAvailable)
struct LateFactTests {
    @Test func aLateGenerationIdAfterAReapMakesASubmittingJobGeneratingAndClaimable() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(
                storeConfiguration(runner.server, database: runner.database, lease: .seconds(1)),
                pid: 1
            )
            let b = try await runner.registeredStore(pid: 2)
            let job = try makeJob("job-late")
            try await a.commit([insert(job), .updateJob(submitting(job))])
            _ = try await FencingTests.reap(a.instanceID, by: b)
            // Within the grace nobody takes it.
            #expect(try await b.claimReleasedWork(ClaimLimits(queued: 10, others: 10)).activeJobs.isEmpty)

            try await a.commit([.recordLateGeneration(job.id, generationID: "gen-late", submittedAt: referenceTime + .seconds(2))])
            let claimed = try await b.claimReleasedWork(ClaimLimits(queued: 10, others: 10)).activeJobs
            #expect(claimed.map(\.id) == [job.id])
            let taken = try #require(claimed.first)
            #expect(taken.phase == .generating)
            #expect(taken.generationID == "gen-late")
            #expect(taken.submittedAt == referenceTime + .seconds(2))
            #expect(taken.submitAttempts == 1)
        }
    }

    @Test func aLateGenerationIdOnAnEndedJobOnlyRecordsTheId() async throws {
        try await withDatabase { runner in
            let b = try await runner.registeredStore(pid: 2)
            let job = try makeJob("job-ended")
            var failed = submitting(job)
            failed.phase = .failed
            failed.finishedAt = referenceTime + .seconds(200)
            failed.failure = JobFailure(code: .submissionOutcomeUnknown, message: "unknown")
            let event = makeEvent(for: failed, type: .failed)
            try await b.commit([
                insert(job), .updateJob(failed),
                .insertEvent(event, deliveries: makeDeliveries(for: event, urls: ["https://hooks.example.com/a"])),
            ])
            let owner = try runner.sql("SELECT owner, fence FROM videospool.jobs")
            let a = try await runner.registeredStore(pid: 1)
            try await a.commit([.recordLateGeneration(job.id, generationID: "gen-late", submittedAt: referenceTime)])
            let after = try #require(try await b.job(job.id))
            #expect(after.phase == .failed)
            #expect(after.generationID == "gen-late")
            #expect(after.submittedAt == failed.submittedAt)
            #expect(try runner.sql("SELECT owner, fence FROM videospool.jobs") == owner, "the holder keeps it")
        }
    }

    @Test func aReapedSubmittingJobIsNotClaimableUntilTheGraceHasPassedByTheDatabaseClock() async throws {
        try await withDatabase { runner in
            let grace = Duration.seconds(3)
            let a = try await runner.registeredStore(
                storeConfiguration(runner.server, database: runner.database, lease: .seconds(1), grace: grace),
                pid: 1
            )
            let b = try await runner.registeredStore(
                storeConfiguration(runner.server, database: runner.database, grace: grace),
                pid: 2
            )
            let job = try makeJob("job-in-flight")
            try await a.commit([insert(job), .updateJob(submitting(job))])
            _ = try await FencingTests.reap(a.instanceID, by: b)
            // Released with the grace ahead of it, by the database's clock.
            let ahead = try runner.sql("SELECT extract(epoch FROM run_after - now()) > 1.5 FROM videospool.jobs")
            #expect(ahead == "t")
            var attempts = 0
            var claimed: [Job] = []
            try await eventually("the job to become claimable") {
                attempts += 1
                claimed = try await b.claimReleasedWork(ClaimLimits(queued: 10, others: 10)).activeJobs
                return !claimed.isEmpty
            }
            #expect(attempts > 1, "claimable at once, before the grace")
            #expect(claimed.map(\.id) == [job.id])
            #expect(claimed.first?.phase == .submitting, "the claimant applies the ambiguity policy")
            let waited = try runner.sql("SELECT claimed_at >= run_after FROM videospool.jobs")
            #expect(waited == "t", "claimed before the grace had passed by the database's clock")
        }
    }
}

/// Leases, reaps and due times follow the database's clock, whatever the hosts' clocks say.
@Suite(.timeLimit(.minutes(3)), postgresAvailable)
struct ClockIndependenceTests {
    @Test(arguments: [60, -60])
    func claimsReapsAndDueTimesFollowTheDatabaseClock(offsetSeconds: Int) async throws {
        try await withDatabase { runner in
            let offset = Duration.seconds(offsetSeconds)
            let ahead: @Sendable () -> Timestamp = { systemClock() + offset }
            let behind: @Sendable () -> Timestamp = { systemClock() - offset }
            let a = try await runner.registeredStore(
                storeConfiguration(runner.server, database: runner.database, lease: .seconds(2)),
                pid: 1,
                clock: ahead
            )
            let b = try await runner.registeredStore(pid: 2, clock: behind)
            var job = try makeJob("job-clock")
            try await a.commit([insert(job)])
            // Due in 3 s by A's clock: in 3 s by the database's, whatever the offset.
            job.nextActionAt = ahead() + .seconds(3)
            try await a.commit([.updateJob(job)])

            let start = ContinuousClock.now
            _ = try await FencingTests.reap(a.instanceID, by: b)
            let reapedAfter = ContinuousClock.now - start
            #expect(reapedAfter < .seconds(20), "the lease of 2 s ran out after \(reapedAfter)")

            let seen = try #require(try await b.job(job.id))
            let dueIn = try #require(seen.nextActionAt) - behind()
            #expect(dueIn <= .seconds(3) && dueIn > .seconds(-20), "due in \(dueIn) by B's clock")

            var claimed: [Job] = []
            try await eventually("the job to come due") {
                claimed = try await b.claimReleasedWork(ClaimLimits(queued: 10, others: 10)).activeJobs
                return !claimed.isEmpty
            }
            let dueAfter = ContinuousClock.now - start
            #expect(dueAfter >= .milliseconds(2500), "claimed \(dueAfter) after the write, before it was due")
            #expect(try runner.sql("SELECT claimed_at >= run_after FROM videospool.jobs") == "t")
            let taken = try #require(claimed.first)
            let lateness = behind() - (try #require(taken.nextActionAt))
            #expect(lateness >= .zero && lateness < .seconds(20), "B sees it due \(lateness) ago by its own clock")
        }
    }
}

/// LISTEN/NOTIFY wake-ups, and the poll-only mode that works behind PgBouncer.
@Suite(.timeLimit(.minutes(3)), postgresAvailable)
struct AnnouncementTests {
    /// A listening store whose announcements are counted from before it starts, so that its first
    /// announcement (it is listening) is never missed.
    static func listeningStore(_ runner: StoreRunner, pid: Int32) async throws -> (PostgresJobStore, Counter) {
        let store = try PostgresJobStore(
            configuration: storeConfiguration(runner.server, database: runner.database, listen: true),
            spoolID: "spool-a",
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            clock: fixedClock
        )
        let counter = Counter(store.workAnnouncements())
        runner.start(store)
        try await store.migrate()
        _ = try await store.register(spoolInstance(pid: pid), replacing: nil)
        try await eventually("the store to listen") { counter.value >= 1 }
        return (store, counter)
    }

    @Test func aReleaseOrACancelRequestByAnotherInstanceWakesAListener() async throws {
        try await withDatabase { runner in
            let (listener, heard) = try await Self.listeningStore(runner, pid: 1)
            defer { heard.stop() }
            let other = try await runner.registeredStore(pid: 2)
            try await other.commit([insert(try makeJob("job-released"))])
            let before = heard.value
            try await other.releaseOwnership()
            try await eventually("the release to be announced") { heard.value > before }
            #expect(try await listener.claimReleasedWork(ClaimLimits(queued: 10, others: 0)).activeJobs.count == 1)

            let beforeCancel = heard.value
            _ = try await other.register(spoolInstance(pid: 2), replacing: nil)
            try await other.commit([.requestCancel(JobID(trusted: "job-released"))])
            try await eventually("the cancel request to be announced") { heard.value > beforeCancel }
        }
    }

    @Test func pollOnlyOpensNoListenConnectionAndNeverAnnouncesButStillClaims() async throws {
        try await withDatabase { runner in
            let pollOnly = try await runner.registeredStore(pid: 1)
            let pollHeard = Counter(pollOnly.workAnnouncements())
            defer { pollHeard.stop() }
            let (_, listenerHeard) = try await Self.listeningStore(runner, pid: 2)
            defer { listenerHeard.stop() }

            let other = try await runner.registeredStore(pid: 3)
            try await other.commit([insert(try makeJob("job-for-anyone"))])
            let before = listenerHeard.value
            try await other.releaseOwnership()
            // The NOTIFY was sent and delivered (the listener heard it) ...
            try await eventually("the listener to hear the release") { listenerHeard.value > before }
            // ... but the poll-only store has no LISTEN connection and heard nothing.
            #expect(pollHeard.value == 0)
            let listeners = try runner.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'videospool listen'"
            )
            #expect(listeners == "1", "only the listening store listens")
            #expect(try await pollOnly.claimReleasedWork(ClaimLimits(queued: 10, others: 0)).activeJobs.count == 1)
        }
    }

    @Test func aLateGenerationThatFreesAJobIsAnnounced() async throws {
        try await withDatabase { runner in
            let (_, heard) = try await Self.listeningStore(runner, pid: 1)
            defer { heard.stop() }
            let other = try await runner.registeredStore(pid: 2)
            let job = try makeJob("job-late-announced")
            try await other.commit([insert(job), .updateJob(submitting(job))])
            let before = heard.value
            try await other.commit([.recordLateGeneration(job.id, generationID: "gen-1", submittedAt: referenceTime)])
            try await eventually("the freed job to be announced") { heard.value > before }
        }
    }
}

/// Two daemons reading one spool directory make one job of each file.
@Suite(.timeLimit(.minutes(2)), postgresAvailable)
struct SharedSpoolTests {
    @Test func twoInstancesInsertingTheSameFileMakeExactlyOneJob() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(spool: "shared", pid: 1)
            let b = try await runner.registeredStore(spool: "shared", pid: 2)
            for round in 0..<20 {
                let identity = "inode-\(round):1234:1700000000"
                let jobs = (try makeJob("job-a-\(round)"), try makeJob("job-b-\(round)"))
                async let first = attempt { try await a.commit([insert(jobs.0, identity: identity)]) }
                async let second = attempt { try await b.commit([insert(jobs.1, identity: identity)]) }
                let outcomes = await [first, second]
                let winners = outcomes.filter { if case .success = $0 { true } else { false } }
                #expect(winners.count == 1, "round \(round): \(outcomes)")
                let losers = outcomes.compactMap { outcome -> SourceAlreadyTaken? in
                    if case .failure(let error) = outcome { return error as? SourceAlreadyTaken }
                    return nil
                }
                #expect(losers.count == 1, "the other is told the file is taken: \(outcomes)")
                let existing = try runner.sql("SELECT id FROM videospool.jobs WHERE source_identity = '\(identity)'")
                #expect(losers.first?.jobID.rawValue == existing)
            }
        }
    }

    @Test func anExplicitJobIDFromTheSameFileIsTakenNotADuplicate() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(spool: "shared", pid: 1)
            let b = try await runner.registeredStore(spool: "shared", pid: 2)
            let job = try makeJob("job-explicit")
            try await a.commit([insert(job, identity: "inode-7")])
            await #expect(throws: SourceAlreadyTaken(jobID: job.id)) {
                try await b.commit([insert(job, identity: "inode-7")])
            }
            // Another file reusing the id is the ordinary duplicate.
            await #expect(throws: PostgresStoreError.duplicateJob(job.id)) {
                try await b.commit([insert(job, identity: "inode-8")])
            }
            // The same file in another spool is another job's file.
            let elsewhere = try await runner.registeredStore(spool: "other", pid: 3)
            try await elsewhere.commit([insert(try makeJob("job-elsewhere"), identity: "inode-7")])
        }
    }
}

/// Versioned migrations in their own schema, applied once however many daemons start together.
@Suite(.timeLimit(.minutes(2)), postgresAvailable)
struct MigrationTests {
    @Test func twoStoresMigratingAnEmptyDatabaseAtOnceBothSucceedWithOneSchema() async throws {
        try await withDatabase { runner in
            let first = try await runner.store(migrate: false)
            let second = try await runner.store(migrate: false)
            #expect(try await first.schemaVersion() == 0)
            async let one: Void = first.migrate()
            async let two: Void = second.migrate()
            _ = try await (one, two)
            #expect(try await first.schemaVersion() == PostgresJobStore.knownSchemaVersion)
            #expect(try await second.schemaVersion() == PostgresJobStore.knownSchemaVersion)
            #expect(try runner.sql("SELECT count(*) FROM videospool.schema_migrations") == "\(PostgresJobStore.knownSchemaVersion)")
            #expect(try runner.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'videospool'") == "1")
            // Migrating again is a no-op.
            try await first.migrate()
            #expect(try runner.sql("SELECT count(*) FROM videospool.schema_migrations") == "\(PostgresJobStore.knownSchemaVersion)")
        }
    }

    @Test func aConfiguredSchemaHoldsTheTablesAndANewerSchemaIsRefused() async throws {
        try await withDatabase { runner in
            var configuration = storeConfiguration(runner.server, database: runner.database)
            configuration.schema = "spool_two"
            let store = try await runner.store(configuration)
            _ = try await store.register(spoolInstance(), replacing: nil)
            try await store.commit([insert(try makeJob("job-in-schema"))])
            #expect(try runner.sql("SELECT count(*) FROM spool_two.jobs") == "1")
            #expect(try runner.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'videospool'") == "0")
            try runner.sql("INSERT INTO spool_two.schema_migrations (version, name) VALUES (999, 'from the future')")
            await #expect(throws: PostgresStoreError.schemaTooNew(found: 999, known: PostgresJobStore.knownSchemaVersion)) {
                try await store.migrate()
            }
        }
    }
}

/// Spool files and outcome files belong to a spool, whoever holds the job.
@Suite(.timeLimit(.minutes(2)), postgresAvailable)
struct SpoolDebtTests {
    @Test func aSpoolsDaemonIsToldOfItsOutcomesAndSourcesWhoeverFinishedTheJob() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(spool: "spool-a", pid: 1)
            let b = try await runner.registeredStore(spool: "spool-b", pid: 2)
            let job = try makeJob("job-from-a")
            try await a.commit([insert(job)])
            try await a.releaseOwnership()
            let taken = try #require(try await b.claimReleasedWork(ClaimLimits(queued: 1, others: 0)).activeJobs.first)
            #expect(try await b.claimReleasedWork(ClaimLimits(queued: 0, others: 0)).unsettledSources.isEmpty)
            var done = try completed(taken)
            done.fence = taken.fence
            try await b.commit([.updateJob(done)])
            #expect(try await b.claimReleasedWork(ClaimLimits(queued: 0, others: 0)).staleOutcomes.isEmpty)

            let returning = try await runner.registeredStore(spool: "spool-a", pid: 3)
            let owed = try await returning.claimReleasedWork(ClaimLimits(queued: 0, others: 0))
            #expect(owed.staleOutcomes == [job.id], "spool-a writes the outcome file")
            #expect(owed.unsettledSources.map(\.jobID) == [job.id], "and settles its own spool file")

            // Retention: only spool-a's daemon prunes it (with its outcome file).
            try await returning.commit([.sourceSettled(job.id)])
            let cutoff = referenceTime + .seconds(3600)
            #expect(try await b.finishedJobs(before: cutoff, limit: 10).isEmpty)
            #expect(try await returning.finishedJobs(before: cutoff, limit: 10).map(\.id) == [job.id])
        }
    }

    @Test func anOperatorTakesAJobWhoseOwnerIsGoneAndPruneWaitsForNobodyToHoldIt() async throws {
        try await withDatabase { runner in
            let a = try await runner.registeredStore(
                storeConfiguration(runner.server, database: runner.database, lease: .seconds(1)),
                pid: 1
            )
            let job = try makeJob("job-orphaned")
            try await a.commit([insert(job)])
            let operatorStore = try await runner.registeredStore(pid: 2)
            // Expired but not yet reaped: the operator need not wait for the reaper.
            try await eventually("A's lease to run out") {
                try runner.sql("SELECT count(*) FROM videospool.instances WHERE expires_at < now()") == "1"
            }
            guard case .held(let held, _, _) = try await operatorStore.claimJob(job.id) else {
                Issue.record("a job whose owner's lease ran out must be taken")
                return
            }
            #expect(held.fence == 1)
            var canceled = held
            canceled.phase = .canceled
            canceled.finishedAt = referenceTime
            canceled.failure = JobFailure(code: .canceled, message: "canceled by an operator")
            try await operatorStore.commit([.updateJob(canceled), .sourceSettled(job.id)])
            // Finished and owing nothing: given back, so retention may delete it.
            #expect(try runner.sql("SELECT owner IS NULL FROM videospool.jobs") == "t")
            try await operatorStore.commit([.deleteJob(job.id)])
            #expect(try await operatorStore.job(job.id) == nil)
        }
    }
}
