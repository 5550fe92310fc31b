import Testing
import VideoSpoolCore

@testable import VideoSpoolPostgres

/// How a group commit's transaction orders its changes so that job updates go out together.
struct ChangeScheduleTests {
    @Test func jobUpdatesOfDifferentJobsGoTogetherAheadOfTheirEvents() throws {
        let a = try completed(makeJob("job-a"))
        let b = try completed(makeJob("job-b"))
        let steps = ChangeSchedule.steps([
            .updateJob(a), .insertEvent(makeEvent(for: a), deliveries: []),
            .updateJob(b), .insertEvent(makeEvent(for: b), deliveries: []),
        ])
        #expect(describe(steps) == ["updates job-a job-b", "events job-a job-b"])
    }

    @Test func eachFrequentKindOfARoundGoesTogetherAheadOfTheRest() throws {
        let jobs = try (0..<6).map { try makeJob("job-\($0)") }
        let delivery = makeDeliveries(for: makeEvent(for: jobs[3]), urls: ["https://a.example/a"])[0]
        let steps = ChangeSchedule.steps([
            .requestCancel(jobs[5].id), .updateDelivery(delivery), insert(jobs[0]),
            .insertEvent(makeEvent(for: jobs[1]), deliveries: []), .updateJob(jobs[2]), insert(jobs[4]),
        ])
        #expect(describe(steps) == [
            "updates job-2", "inserts job-0 job-4", "events job-1", "deliveries job-3", "requestCancel job-5",
        ])
    }

    @Test func eachJobsChangesKeepTheirOrder() throws {
        let a = try makeJob("job-a")
        var later = submitting(a)
        later.phase = .generating
        let b = try makeJob("job-b")
        let steps = ChangeSchedule.steps([
            insert(a), .updateJob(submitting(a)), .updateJob(later), .reserveSpend(reservation(b)), .updateJob(b),
            .deleteJob(b.id),
        ])
        #expect(describe(steps) == [
            "inserts job-a", "reservations job-b",
            "updates job-a job-b",
            "updates job-a", "deleteJob job-b",
        ])
        // The two updates of job-a stay in their order: submitting, then generating.
        guard case .jobUpdates(let second) = steps[2], case .jobUpdates(let third) = steps[3] else {
            Issue.record("expected two batches of updates")
            return
        }
        #expect(second.first?.phase == .submitting && third.first?.phase == .generating)
    }

    @Test func changesWithoutAJobUpdateKeepTheirArrivalOrder() throws {
        let jobs = try (0..<4).map { try makeJob("job-\($0)") }
        let steps = ChangeSchedule.steps(jobs.reversed().map { .requestCancel($0.id) })
        #expect(describe(steps) == ["requestCancel job-3", "requestCancel job-2", "requestCancel job-1", "requestCancel job-0"])
    }

    private func reservation(_ job: Job) -> SpendReservation {
        SpendReservation(job: job, at: referenceTime, budget: BudgetSettings())
    }

    private func describe(_ steps: [ChangeSchedule.Step]) -> [String] {
        steps.map { step in
            switch step {
            case .jobUpdates(let jobs): "updates " + jobs.map(\.id.rawValue).joined(separator: " ")
            case .jobInserts(let new): "inserts " + new.map(\.job.id.rawValue).joined(separator: " ")
            case .eventInserts(let new): "events " + new.map(\.event.jobID.rawValue).joined(separator: " ")
            case .deliveryUpdates(let deliveries): "deliveries " + deliveries.map(\.jobID.rawValue).joined(separator: " ")
            case .spendReservations(let reservations): "reservations " + reservations.map(\.jobID.rawValue).joined(separator: " ")
            case .single(let change):
                String("\(change)".prefix { $0 != "(" }) + " " + ChangeSchedule.jobID(of: change).rawValue
            }
        }
    }
}
