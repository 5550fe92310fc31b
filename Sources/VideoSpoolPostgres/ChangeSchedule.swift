import VideoSpoolCore

/// The order a group commit's transaction applies its changes in, so that the changes of many jobs
/// go to the server as one statement of each kind instead of one round trip each.
///
/// Every change belongs to one job, and only the order of one job's changes matters: the callers
/// grouped into a transaction are independent (the group's order is their arrival order, which
/// means nothing). So the changes are taken in rounds: round *k* holds the *k*-th change of every
/// job, in arrival order. Within a round the frequent kinds go first, each kind together (job
/// updates, new jobs, new events, delivery updates, spend reservations); then the other changes,
/// one by one, in arrival order. A job's changes keep their order, because its *k*-th change is in round *k*.
enum ChangeSchedule {
    struct NewJob {
        let job: Job
        let requestBody: [UInt8]
        let source: SourceFile
    }

    struct NewEvent {
        let event: WebhookEvent
        let deliveries: [Delivery]
    }

    enum Step {
        /// Changes of distinct jobs, each kind applied by one statement.
        case jobUpdates([Job])
        case jobInserts([NewJob])
        case eventInserts([NewEvent])
        case deliveryUpdates([Delivery])
        case spendReservations([SpendReservation])
        case single(StoreChange)
    }

    static func steps(_ changes: [StoreChange]) -> [Step] {
        var seen: [JobID: Int] = [:]
        var rounds: [[StoreChange]] = []
        for change in changes {
            let job = jobID(of: change)
            let round = seen[job, default: 0]
            seen[job] = round + 1
            if round == rounds.count { rounds.append([]) }
            rounds[round].append(change)
        }
        var steps: [Step] = []
        for round in rounds {
            var updates: [Job] = []
            var inserts: [NewJob] = []
            var events: [NewEvent] = []
            var deliveries: [Delivery] = []
            var reservations: [SpendReservation] = []
            var others: [Step] = []
            for change in round {
                switch change {
                case .updateJob(let job): updates.append(job)
                case .insertJob(let job, let body, let source):
                    inserts.append(NewJob(job: job, requestBody: body, source: source))
                case .insertEvent(let event, let eventDeliveries):
                    events.append(NewEvent(event: event, deliveries: eventDeliveries))
                case .updateDelivery(let delivery): deliveries.append(delivery)
                case .reserveSpend(let reservation): reservations.append(reservation)
                default: others.append(.single(change))
                }
            }
            if !updates.isEmpty { steps.append(.jobUpdates(updates)) }
            if !inserts.isEmpty { steps.append(.jobInserts(inserts)) }
            if !events.isEmpty { steps.append(.eventInserts(events)) }
            if !deliveries.isEmpty { steps.append(.deliveryUpdates(deliveries)) }
            if !reservations.isEmpty { steps.append(.spendReservations(reservations)) }
            steps += others
        }
        return steps
    }

    /// The job a change belongs to.
    static func jobID(of change: StoreChange) -> JobID {
        switch change {
        case .insertJob(let job, _, _), .updateJob(let job): job.id
        case .insertEvent(let event, _): event.jobID
        case .addDelivery(let delivery), .updateDelivery(let delivery): delivery.jobID
        case .sourceSettled(let id), .outcomeWritten(let id, _), .deleteJob(let id), .requestCancel(let id),
            .recordLateGeneration(let id, _, _):
            id
        case .recordDeliveryAttempt(let attempt): attempt.jobID
        case .reserveSpend(let reservation): reservation.jobID
        }
    }
}
