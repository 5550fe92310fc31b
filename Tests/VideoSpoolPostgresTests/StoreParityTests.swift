import Foundation
import Testing
import VideoSpoolCore
import VideoSpoolPostgres
import VideoSpoolStore
import VideoSpoolTesting

/// Every JobStore and JobReports operation gives the same results on PostgreSQL as on SQLite (the
/// reference semantics) for the same sequence of changes: each scenario runs on both backends and
/// writes a transcript of everything it observed; the transcripts must match line for line.
///
/// Observations are normalized only where the backends differ by design: the fence a job is held
/// under (0 with one owner) and the next action time, which PostgreSQL keeps as a database instant
/// and translates back through the app's clock (so it may read up to the test's running time
/// earlier; every value the scenarios use lies on a 10 s grid, and readings are rounded up to it).
@Suite(.timeLimit(.minutes(5)), postgresAvailable)
struct StoreParityTests {
    @Test(arguments: ParityScenario.all)
    func bothStoresGiveTheSameResults(_ scenario: ParityScenario) async throws {
        var transcripts: [StoreBackend: [String]] = [:]
        for backend in StoreBackend.allCases {
            transcripts[backend] = try await backend.withStore { store in
                let transcript = Transcript()
                try await scenario.run(store, transcript)
                return transcript.lines
            }
        }
        let sqlite = try #require(transcripts[.sqlite])
        let postgres = try #require(transcripts[.postgresql])
        #expect(!sqlite.isEmpty, "a scenario must observe something")
        if ProcessInfo.processInfo.environment["VIDEOSPOOL_PRINT_TRANSCRIPTS"] == "1" {
            print((["== \(scenario.name): SQLite"] + sqlite + ["== PostgreSQL"] + postgres).joined(separator: "\n"))
        }
        #expect(sqlite.count == postgres.count)
        for (index, (expected, actual)) in zip(sqlite, postgres).enumerated() {
            #expect(actual == expected, "line \(index)")
        }
    }
}

/// What a scenario observed, each value normalized and printed on a line of its own.
final class Transcript: @unchecked Sendable {
    private(set) var lines: [String] = []

    func note(_ label: String, _ value: Any?) {
        lines.append("\(label): \(Self.normalized(value))")
    }

    /// Records whether `operation` threw (the error types differ between backends, not the fact).
    func noteOutcome(_ label: String, _ operation: () async throws -> Void) async {
        do {
            try await operation()
            lines.append("\(label): ok")
        } catch {
            lines.append("\(label): error")
        }
    }

    static func normalized(_ value: Any?) -> String {
        switch value {
        case nil: return "nil"
        case let job as Job: return "\(normalize(job))"
        case let job as Job?: return job.map { "\(normalize($0))" } ?? "nil"
        case let jobs as [Job]: return "\(jobs.map(normalize))"
        case let delivery as Delivery: return "\(normalize(delivery))"
        case let deliveries as [Delivery]: return "\(deliveries.map(normalize))"
        case let state as RecoveredState:
            return """
                active \(state.activeJobs.map(normalize)) pending \(Set(state.pendingDeliveries.map(normalize)).sorted { "\($0)" < "\($1)" }) \
                stale \(state.staleOutcomes) unsettled \(state.unsettledSources.map { "\($0.jobID) \($0.source)" }) \
                finished \(state.finishedCounts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key)=\($0.value)" }) \
                cancels \(state.cancelRequests)
                """
        case let snapshot as OutcomeSnapshot:
            return "\(normalize(snapshot.job)) \(snapshot.event) \(snapshot.deliveries.map(normalize)) v\(snapshot.version)"
        case let snapshot as OutcomeSnapshot?:
            return snapshot.map { normalized($0) } ?? "nil"
        case let summaries as [JobSummary]:
            return "\(summaries.map { "\($0.state) \(normalize($0.job))" })"
        case let report as JobReport:
            return """
                \(report.state) \(normalize(report.job)) body \(report.requestBody.map { String(decoding: $0, as: UTF8.self) } ?? "nil") \
                transitions \(report.transitions) events \(report.events) deliveries \(report.deliveries.map(normalize)) \
                attempts \(report.attempts)
                """
        case let report as JobReport?:
            return report.map { normalized($0) } ?? "nil"
        case let value?:
            return "\(value)"
        }
    }

    static func normalize(_ job: Job) -> Job {
        var job = job
        job.fence = 0
        job.nextActionAt = job.nextActionAt.map(onGrid)
        return job
    }

    static func normalize(_ delivery: Delivery) -> Delivery {
        var delivery = delivery
        delivery.fence = 0
        return delivery
    }

    /// Rounds up to the scenarios' 10 s grid around the reference time.
    static func onGrid(_ time: Timestamp) -> Timestamp {
        let offset = time.millisecondsSinceEpoch - referenceTime.millisecondsSinceEpoch
        let steps = offset >= 0 ? (offset + 9_999) / 10_000 : -((-offset) / 10_000)
        return Timestamp(millisecondsSinceEpoch: referenceTime.millisecondsSinceEpoch + steps * 10_000)
    }
}

/// A sequence of changes and observations, run on each backend.
struct ParityScenario: Sendable, CustomTestStringConvertible {
    let name: String
    let run: @Sendable (BackendStore, Transcript) async throws -> Void

    var testDescription: String { name }

    static let urls = ["https://hooks.example.com/a", "https://hooks.example.org/b"]

    static let all: [ParityScenario] = [
        ParityScenario(name: "a queued job comes back field for field with its request body") { store, log in
            let job = try makeJob("job-queued")
            try await store.commit([insert(job)])
            log.note("job", try await store.store.job(job.id))
            log.note("body", try await store.store.requestBody(for: job.id).map { String(decoding: $0, as: UTF8.self) })
            log.note("contains", try await store.store.containsJob(job.id))
            log.note("contains other", try await store.store.containsJob(JobID(trusted: "job-other")))
            log.note("job other", try await store.store.job(JobID(trusted: "job-other")))
            log.note("body other", try await store.store.requestBody(for: JobID(trusted: "job-other")))
            log.note("outcome", try await store.store.outcome(for: job.id))
            log.note("recovered", try await store.restart())
        },
        ParityScenario(name: "a job without metadata or parameters round-trips") { store, log in
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
            log.note("job", try await store.store.job(job.id))
            log.note("recovered", try await store.restart())
        },
        ParityScenario(name: "a generating job round-trips every field") { store, log in
            let job = try makeJob("job-generating")
            try await store.commit([insert(job)])
            var sending = submitting(job)
            sending.submitAllowance = 2
            sending.submitAttempts = 2
            try await store.commit([.updateJob(sending)])
            log.note("submitting", try await store.store.job(job.id))
            var generating = sending
            generating.phase = .generating
            generating.generationID = "gen_0123456789"
            generating.submittedAt = referenceTime + .milliseconds(1_501)
            generating.nextActionAt = referenceTime + .seconds(30)
            generating.upstreamStatus = "generating"
            generating.polls = 7
            generating.lastRunningAt = referenceTime + .milliseconds(20_001)
            generating.consecutivePollFailures = 2
            generating.consecutiveNotFound = 1
            try await store.commit([.updateJob(generating)])
            log.note("generating", try await store.store.job(job.id))
            // Due now, so that a restart on either backend takes it up.
            generating.nextActionAt = referenceTime - .seconds(10)
            try await store.commit([.updateJob(generating)])
            log.note("recovered", try await store.restart())
        },
        ParityScenario(name: "a storing job is active: recovered, listed as storing, never pruned, then completed") {
            store,
            log in
            let job = try makeJob("job-storing")
            try await store.commit([insert(job), .updateJob(submitting(job))])
            var storing = try completed(job)
            storing.phase = .storing
            storing.nextActionAt = referenceTime - .seconds(10)
            try await store.commit([.updateJob(storing)])
            let read = try await store.store.job(job.id)
            #expect(read?.phase == .storing)
            #expect(read?.videoURL == storing.videoURL && read?.finishedAt == storing.finishedAt)
            log.note("storing", read)
            let listed = try await store.store.jobSummaries(in: .storing, limit: 10)
            #expect(listed.map(\.job.id) == [job.id] && listed.map(\.state) == [.storing])
            log.note("list storing", listed)
            let prunable = try await store.store.finishedJobs(before: referenceTime + .seconds(86400), limit: 10)
            #expect(prunable.isEmpty)
            log.note("prunable", prunable)
            let recovered = try await store.restart()
            #expect(recovered.activeJobs.map(\.id) == [job.id])
            #expect(recovered.activeJobs.first?.phase == .storing)
            log.note("recovered", recovered)
            var done = try #require(recovered.activeJobs.first)
            done.phase = .completed
            done.nextActionAt = nil
            let event = makeEvent(for: done)
            try await store.commit([
                .updateJob(done), .insertEvent(event, deliveries: makeDeliveries(for: event, urls: urls, fence: done.fence)),
            ])
            let after = try await store.store.job(job.id)
            #expect(after?.phase == .completed)
            log.note("completed", after)
            log.note("timeline", try await store.store.jobReport(job.id)?.transitions.map { "\($0.from?.rawValue ?? "-")→\($0.to)" })
        },
        ParityScenario(name: "a completed job keeps its usage numbers exactly and is counted") { store, log in
            let job = try makeJob("job-completed")
            let other = try makeJob("job-still-queued")
            try await store.commit([insert(job), insert(other)])
            for (index, (credits, usd)) in [("120000", "0.06"), ("0.10", "1e-3"), ("-0", "12345678901234567890.5")]
                .enumerated()
            {
                var done = try completed(job)
                done.usage = Usage(creditsUsed: try number(credits), usdSpent: try number(usd))
                if index == 0 {
                    try await store.commit([.updateJob(done)])
                } else {
                    // Given back after it finished: rewrite it as a fresh job each time.
                    let copy = try makeJob("job-completed-\(index)")
                    var copyDone = try completed(copy)
                    copyDone.usage = done.usage
                    try await store.commit([insert(copy), .updateJob(copyDone)])
                    log.note("copy \(index)", try await store.store.job(copy.id))
                }
            }
            log.note("job", try await store.store.job(job.id))
            log.note("recovered", try await store.restart())
        },
        ParityScenario(name: "a failed job keeps its failure code and message") { store, log in
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
            log.note("job", try await store.store.job(job.id))
            log.note("report", try await store.store.jobReport(job.id))
            log.note("recovered", try await store.restart())
        },
        ParityScenario(name: "events, deliveries and the outcome's staleness") { store, log in
            let job = try makeJob("job-event")
            try await store.commit([insert(job), .sourceSettled(job.id)])
            let done = try completed(job)
            let event = makeEvent(for: done)
            let deliveries = makeDeliveries(for: event, urls: urls)
            try await store.commit([.updateJob(done), .insertEvent(event, deliveries: deliveries)])
            log.note("event", try await store.store.event(id: event.id))
            log.note("event unknown", try await store.store.event(id: "msg_unknown"))
            let first = try #require(try await store.store.outcome(for: job.id))
            log.note("outcome 1", first)
            try await store.commit([.outcomeWritten(job.id, version: first.version)])

            var delivered = deliveries[0]
            delivered.state = .delivered
            delivered.attempts = 2
            delivered.lastAttemptAt = referenceTime + .seconds(70)
            delivered.lastStatusCode = 204
            delivered.deliveredAt = referenceTime + .milliseconds(70_250)
            delivered.nextAttemptAt = nil
            try await store.commit([.updateDelivery(delivered)])
            let second = try #require(try await store.store.outcome(for: job.id))
            log.note("outcome 2", second)
            log.note("newer", second.version > first.version)

            var gone = deliveries[1]
            gone.state = .gone
            gone.attempts = 1
            gone.lastStatusCode = 410
            gone.lastError = "HTTP 410 Gone"
            gone.nextAttemptAt = nil
            try await store.commit([.updateDelivery(gone)])
            // An older written version does not clear a newer staleness.
            try await store.commit([.outcomeWritten(job.id, version: second.version)])
            log.note("summaries", try await store.store.jobSummaries(in: nil, limit: 10))
            log.note("recovered", try await store.restart())
            let third = try #require(try await store.store.outcome(for: job.id))
            try await store.commit([.outcomeWritten(job.id, version: third.version)])
            try await store.commit([.outcomeWritten(job.id, version: first.version)])
            log.note("after writing", try await store.restart())
        },
        ParityScenario(name: "outcomes read in one batch are each job's outcome read alone") { store, log in
            var ids: [JobID] = []
            for name in ["job-batch-a", "job-batch-b", "job-batch-c"] {
                let job = try makeJob(name)
                try await store.commit([insert(job), .sourceSettled(job.id)])
                ids.append(job.id)
                // The last job stays queued: it has no event, so no outcome.
                guard name != "job-batch-c" else { continue }
                let done = try completed(job)
                let event = makeEvent(for: done)
                let deliveries = makeDeliveries(for: event, urls: urls)
                try await store.commit([.updateJob(done), .insertEvent(event, deliveries: deliveries)])
                guard name == "job-batch-a" else { continue }
                // Every field of a delivery that was tried, text that JSON must escape included.
                var failed = deliveries[0]
                failed.state = .failed
                failed.attempts = 3
                failed.lastAttemptAt = referenceTime + .seconds(70)
                failed.lastStatusCode = 500
                failed.lastError = "HTTP 500: \"oops\" ✓\n\\ \u{1}"
                failed.nextAttemptAt = nil
                var delivered = deliveries[1]
                delivered.state = .delivered
                delivered.attempts = 1
                delivered.lastAttemptAt = referenceTime + .seconds(61)
                delivered.lastStatusCode = 204
                delivered.deliveredAt = referenceTime + .seconds(61)
                try await store.commit([.updateDelivery(failed)])
                try await store.commit([.updateDelivery(delivered)])
            }
            let asked = ids + [JobID(trusted: "job-unknown")]
            let batch = try await store.store.outcomes(for: asked)
            #expect(Set(batch.keys) == Set(ids.prefix(2)))
            for id in asked {
                let alone = try await store.store.outcome(for: id)
                #expect(String(describing: batch[id]) == String(describing: alone), "job \(id)")
                log.note("batch \(id)", batch[id])
            }
            log.note("empty", try await store.store.outcomes(for: []))
        },
        ParityScenario(name: "pending deliveries are recovered until they are final") { store, log in
            let job = try makeJob("job-pending")
            try await store.commit([insert(job), .sourceSettled(job.id)])
            let done = try completed(job)
            let event = makeEvent(for: done)
            let deliveries = makeDeliveries(for: event, urls: urls)
            try await store.commit([.updateJob(done), .insertEvent(event, deliveries: deliveries)])
            log.note("delivering", try await store.store.jobSummaries(in: .delivering, limit: 10))
            log.note("done", try await store.store.jobSummaries(in: .done, limit: 10))
            log.note("recovered", try await store.restart())
            let held = try await store.store.claimJob(job.id)
            guard case .held(_, let pending, _) = held else {
                Issue.record("the job should be free to take: \(held)")
                return
            }
            var retrying = pending[1]
            retrying.attempts = 1
            retrying.lastAttemptAt = referenceTime + .seconds(71)
            retrying.lastStatusCode = 503
            retrying.lastError = "HTTP 503"
            retrying.nextAttemptAt = referenceTime + .seconds(101)
            try await store.commit([
                .updateDelivery(retrying),
                .recordDeliveryAttempt(
                    DeliveryAttempt(
                        deliveryID: retrying.id,
                        jobID: job.id,
                        number: 1,
                        startedAt: referenceTime + .seconds(71),
                        latency: .milliseconds(250),
                        statusCode: 503,
                        error: "HTTP 503",
                        resultingState: .pending
                    )
                ),
            ])
            var delivered = pending[0]
            delivered.state = .delivered
            delivered.attempts = 1
            delivered.deliveredAt = referenceTime + .seconds(72)
            delivered.nextAttemptAt = nil
            try await store.commit([.updateDelivery(delivered)])
            log.note("report", try await store.store.jobReport(job.id))
            var failed = retrying
            failed.state = .failed
            failed.attempts = 9
            failed.lastAttemptAt = referenceTime + .seconds(500)
            failed.nextAttemptAt = nil
            try await store.commit([.updateDelivery(failed)])
            log.note("failed since", try await store.store.failedDeliveries(since: referenceTime + .seconds(400)))
            log.note("failed since later", try await store.store.failedDeliveries(since: referenceTime + .seconds(600)))
            log.note("done now", try await store.store.jobSummaries(in: .done, limit: 10))
            log.note("recovered after", try await store.restart())
        },
        ParityScenario(name: "a rejected job with an event is never stale and keeps no request body") { store, log in
            var job = Job(
                id: JobID(trusted: "01JDEXAMPLEREJECTED0000000"),
                phase: .rejected,
                model: "",
                callbackURLs: urls,
                metadata: try json(#"{"ticket":7}"#).objectValue,
                acceptedAt: referenceTime,
                sourceName: "broken.json",
                parameters: GenerationParameters()
            )
            job.failure = JobFailure(code: .rejected, message: "prompt: missing")
            job.finishedAt = referenceTime
            let rejectedSource = SourceFile(
                name: "broken.json",
                sha256: String(repeating: "0f", count: 32),
                disposition: .reject,
                errorDocument: Array("{\n  \"errors\": []\n}\n".utf8)
            )
            let event = makeEvent(for: job, id: "msg_rejected", type: .rejected)
            let deliveries = makeDeliveries(for: event, urls: urls)
            try await store.commit([
                .insertJob(job, requestBody: [], source: rejectedSource),
                .insertEvent(event, deliveries: deliveries),
            ])
            log.note("job", try await store.store.job(job.id))
            log.note("body", try await store.store.requestBody(for: job.id))
            log.note("failed", try await store.store.jobSummaries(in: .failed, limit: 10))
            log.note("delivering", try await store.store.jobSummaries(in: .delivering, limit: 10))
            log.note("recovered", try await store.restart())
            guard case .held(_, let pending, _) = try await store.store.claimJob(job.id) else {
                Issue.record("the rejection should be free to take")
                return
            }
            var delivered = pending[0]
            delivered.state = .delivered
            delivered.attempts = 1
            delivered.nextAttemptAt = nil
            try await store.commit([.updateDelivery(delivered), .sourceSettled(job.id)])
            log.note("recovered after", try await store.restart())
        },
        ParityScenario(name: "sources stay unsettled until settled; jobs come back in arrival order") { store, log in
            let names = ["job-c", "job-a", "job-b"]
            for name in names { try await store.commit([insert(try makeJob(name))]) }
            try await store.commit([.sourceSettled(JobID(trusted: "job-a"))])
            log.note("recovered", try await store.restart())
        },
        ParityScenario(name: "list by state, newest first, with a limit") { store, log in
            var changes: [StoreChange] = []
            for index in 0..<6 {
                let job = try makeJob("job-list-\(index)", acceptedAt: referenceTime + .seconds(index))
                changes.append(insert(job))
                switch index % 3 {
                case 0: break
                case 1: changes.append(.updateJob(submitting(job)))
                default:
                    var failed = job
                    failed.phase = .failed
                    failed.finishedAt = referenceTime + .seconds(100)
                    failed.failure = JobFailure(code: .queueExpired, message: "expired")
                    changes.append(.updateJob(failed))
                }
            }
            try await store.commit(changes)
            for state in [nil] + JobState.allCases.map(Optional.some) {
                log.note("list \(state.map(\.rawValue) ?? "all")", try await store.store.jobSummaries(in: state, limit: 10))
                log.note("list \(state.map(\.rawValue) ?? "all") 1", try await store.store.jobSummaries(in: state, limit: 1))
            }
            log.note("report", try await store.store.jobReport(JobID(trusted: "job-list-2")))
            log.note("report unknown", try await store.store.jobReport(JobID(trusted: "job-none")))
        },
        ParityScenario(name: "retention deletes a finished job with everything it had, and nothing else") { store, log in
            let old = try makeJob("job-old")
            let young = try makeJob("job-young")
            let active = try makeJob("job-active")
            try await store.commit([insert(old), insert(young), insert(active)])
            var oldDone = try completed(old)
            oldDone.finishedAt = referenceTime + .seconds(10)
            var youngDone = try completed(young)
            youngDone.finishedAt = referenceTime + .seconds(1000)
            let event = makeEvent(for: oldDone)
            var delivery = makeDeliveries(for: event, urls: [urls[0]])[0]
            try await store.commit([.updateJob(oldDone), .insertEvent(event, deliveries: [delivery])])
            log.note("before settling", try await store.store.finishedJobs(before: referenceTime + .seconds(500), limit: 10))
            delivery.state = .delivered
            delivery.attempts = 1
            delivery.nextAttemptAt = nil
            try await store.commit([.updateDelivery(delivery), .sourceSettled(old.id)])
            try await store.commit([.updateJob(youngDone), .sourceSettled(young.id)])
            log.note("finished", try await store.store.finishedJobs(before: referenceTime + .seconds(500), limit: 10))
            log.note("finished all", try await store.store.finishedJobs(before: referenceTime + .seconds(5000), limit: 10))
            log.note("finished 1", try await store.store.finishedJobs(before: referenceTime + .seconds(5000), limit: 1))
            try await store.commit([.deleteJob(old.id), .deleteJob(active.id)])
            log.note("old", try await store.store.job(old.id))
            log.note("old body", try await store.store.requestBody(for: old.id))
            log.note("old event", try await store.store.event(id: event.id))
            log.note("old report", try await store.store.jobReport(old.id))
            log.note("active", try await store.store.job(active.id))
            log.note("recovered", try await store.restart())
        },
        ParityScenario(name: "recent completions and duplicates by content") { store, log in
            for index in 0..<5 {
                let job = try makeJob("job-done-\(index)", acceptedAt: referenceTime + .seconds(index))
                var done = try completed(job)
                done.submittedAt = referenceTime + .seconds(index * 1000)
                done.lastRunningAt = index == 3 ? nil : done.submittedAt! + .seconds(100)
                done.finishedAt = done.submittedAt! + .seconds(101 + index)
                try await store.commit([insert(job), .updateJob(done)])
            }
            log.note("recent 3", try await store.store.recentCompletions(limit: 3))
            log.note("recent all", try await store.store.recentCompletions(limit: 100))
            let found = try await store.store.jobAccepted(
                fromFileWithSHA256: String(repeating: "ab", count: 32),
                since: referenceTime + .seconds(2)
            )
            log.note("accepted", found.map { "\($0.0) \($0.1)" })
            let none = try await store.store.jobAccepted(
                fromFileWithSHA256: String(repeating: "cd", count: 32),
                since: referenceTime
            )
            log.note("accepted other", none.map { "\($0.0) \($0.1)" })
        },
        ParityScenario(name: "a late generation id lands on a submitting job, and only records on an ended one") {
            store,
            log in
            let waiting = try makeJob("job-late-submitting")
            let ended = try makeJob("job-late-ended")
            try await store.commit([insert(waiting), insert(ended), .updateJob(submitting(waiting))])
            var failed = submitting(ended)
            failed.phase = .failed
            failed.finishedAt = referenceTime + .seconds(5)
            failed.failure = JobFailure(code: .submissionOutcomeUnknown, message: "unknown")
            try await store.commit([.updateJob(failed)])
            try await store.commit([
                .recordLateGeneration(waiting.id, generationID: "gen-late-1", submittedAt: referenceTime + .seconds(3)),
                .recordLateGeneration(ended.id, generationID: "gen-late-2", submittedAt: referenceTime + .seconds(3)),
            ])
            // A second late id changes nothing.
            try await store.commit([
                .recordLateGeneration(waiting.id, generationID: "gen-late-3", submittedAt: referenceTime + .seconds(4))
            ])
            log.note("waiting", try await store.store.job(waiting.id))
            log.note("ended", try await store.store.job(ended.id))
            log.note("recovered", try await store.restart())
        },
        ParityScenario(name: "a bad change fails its whole commit and only its caller") { store, log in
            let innocent = try makeJob("job-in-same-commit")
            let unknown = try makeJob("job-never-inserted")
            await log.noteOutcome("commit with an unknown job") {
                try await store.commit([insert(innocent), .updateJob(unknown)])
            }
            log.note("innocent", try await store.store.containsJob(innocent.id))
            let existing = try makeJob("job-existing")
            try await store.commit([insert(existing)])
            let good = try (0..<40).map { try makeJob(String(format: "job-good-%03d", $0)) }
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
                    if index % 10 == 5 {
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
            log.note("outcomes", outcomes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
            // Concurrent commits land in any order: compare the sets.
            let recovered = try await store.restart()
            log.note("recovered", recovered.activeJobs.map { Transcript.normalize($0) }.sorted { $0.id.rawValue < $1.id.rawValue })
            log.note("unsettled", recovered.unsettledSources.map(\.jobID.rawValue).sorted())
        },
        ParityScenario(name: "a retried job goes back to the queue with one more submission allowed") { store, log in
            let job = try makeJob("job-retried")
            try await store.commit([insert(job)])
            var failed = submitting(job)
            failed.phase = .failed
            failed.finishedAt = referenceTime + .seconds(30)
            failed.failure = JobFailure(code: .apiRejected, message: "HTTP 422")
            try await store.commit([.updateJob(failed)])
            guard case .held(let held, _, _) = try await store.store.claimJob(job.id) else {
                Issue.record("a finished job should be free to take")
                return
            }
            var requeued = held
            requeued.phase = .queued
            requeued.submitAllowance = requeued.submitAttempts + 1
            requeued.requeuedAt = referenceTime + .seconds(40)
            requeued.nextActionAt = referenceTime - .seconds(10)
            requeued.failure = nil
            requeued.finishedAt = nil
            try await store.commit([.updateJob(requeued)])
            log.note("report", try await store.store.jobReport(job.id))
            log.note("recovered", try await store.restart())
        },
    ]
}
