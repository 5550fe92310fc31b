import Synchronization
public import VideoSpoolCore

/// A store shared by several daemons, in memory, with the ownership rules of the PostgreSQL store
/// (WorkOwnership.swift): instances, fences, fenced writes that throw ``LeaseLost``, release of
/// expired instances, claims. Leases end when the test says so (``expire(_:)``), not by a clock,
/// so runtime tests of handing jobs over are deterministic. Each daemon gets its own ``view()``.
public final class InMemorySharedStore: Sendable {
    /// The data, shared by every view.
    public let data = InMemoryJobStore()
    let leaseDuration: Duration

    struct Ownership {
        var instances: [InstanceID: InstanceDescription] = [:]
        var expired: Set<InstanceID> = []
        var owners: [JobID: InstanceID] = [:]
        var fences: [JobID: Int64] = [:]
        var cancelRequests: Set<JobID> = []
        var announcements: [InstanceID: AsyncStream<Void>.Continuation] = [:]
        var nextInstance = 1
        var nextFence: Int64 = 1
    }

    let ownership = Mutex(Ownership())

    public init(leaseDuration: Duration = .seconds(15)) {
        self.leaseDuration = leaseDuration
    }

    /// A store for one daemon.
    public func view() -> View { View(shared: self) }

    /// Ends an instance's lease: it can no longer renew, and the next release of expired
    /// instances (by any view) gives its jobs back.
    public func expire(_ instance: InstanceID) {
        ownership.withLock { _ = $0.expired.insert(instance) }
    }

    /// Who holds a job now, and under which fence.
    public func holder(of id: JobID) -> (owner: InstanceID?, fence: Int64) {
        ownership.withLock { ($0.owners[id], $0.fences[id] ?? 0) }
    }

    /// Gives a job back (no owner, a new fence), as releasing an instance does.
    func release(_ id: JobID, in state: inout Ownership) {
        state.owners[id] = nil
        state.fences[id, default: 0] += 1
    }

    func announce(in state: Ownership, except me: InstanceID?) {
        for (instance, continuation) in state.announcements where instance != me { continuation.yield() }
    }

    /// One daemon's store: every fenced write names this view's instance.
    public final class View: JobStore, Sendable {
        public let shared: InMemorySharedStore
        let me = Mutex<InstanceID?>(nil)
        private let riders = Mutex<[StoreChange]>([])

        init(shared: InMemorySharedStore) {
            self.shared = shared
        }

        public var instance: InstanceID? { me.withLock { $0 } }

        private var data: InMemoryJobStore { shared.data }

        public var availability: StoreAvailability { data.availability }

        // MARK: Writes

        public func commitWithNext(_ changes: [StoreChange]) {
            riders.withLock { $0.append(contentsOf: changes) }
        }

        public func commit(_ changes: [StoreChange]) async throws {
            let changes = riders.withLock { riders in
                defer { riders = [] }
                return riders
            } + changes
            let me = self.me.withLock { $0 }
            try shared.ownership.withLock { state in
                var lost: [JobID] = []
                func holds(_ id: JobID, fence: Int64?) -> Bool {
                    state.owners[id] == me && me != nil && fence.map { $0 == state.fences[id, default: 0] } ?? true
                }
                for change in changes {
                    switch change {
                    case .updateJob(let job) where !holds(job.id, fence: job.fence): lost.append(job.id)
                    case .updateDelivery(let delivery) where !holds(delivery.jobID, fence: delivery.fence):
                        lost.append(delivery.jobID)
                    case .insertEvent(let event, _) where !holds(event.jobID, fence: nil): lost.append(event.jobID)
                    case .addDelivery(let delivery) where !holds(delivery.jobID, fence: nil): lost.append(delivery.jobID)
                    default: break
                    }
                }
                guard lost.isEmpty else { throw LeaseLost(jobs: lost) }
                let waitingForAnswer = Set(
                    changes.compactMap { change -> JobID? in
                        guard case .recordLateGeneration(let id, _, _) = change,
                            let job = shared.data.peek(id), job.phase == .submitting, job.generationID == nil
                        else { return nil }
                        return id
                    }
                )
                try shared.data.commitNow(changes)
                var announce = false
                for change in changes {
                    switch change {
                    case .insertJob(let job, _, _):
                        state.owners[job.id] = me
                        state.fences[job.id] = job.fence
                    case .recordLateGeneration(let id, _, _) where waitingForAnswer.contains(id):
                        // Now generating, and free for any daemon to poll.
                        shared.release(id, in: &state)
                        announce = true
                    case .requestCancel(let id):
                        state.cancelRequests.insert(id)
                        announce = true
                    default: break
                    }
                }
                // Finished jobs with nothing left to deliver need nobody.
                for id in Set(changes.compactMap(\.jobID)) where state.owners[id] != nil {
                    if let job = shared.data.peek(id), job.phase.isTerminal, !shared.data.hasPendingDelivery(id) {
                        shared.release(id, in: &state)
                    }
                }
                if announce { shared.announce(in: state, except: nil) }
            }
        }

        // MARK: Ownership

        public func register(
            _ instance: InstanceDescription,
            replacing previous: InstanceID?
        ) async throws -> InstanceRegistration {
            let registration = shared.ownership.withLock { state -> InstanceRegistration in
                let id = InstanceID("instance-\(state.nextInstance)")
                state.nextInstance += 1
                state.instances[id] = instance
                var replaced: [ReleasedInstance] = []
                if let previous, let old = state.instances.removeValue(forKey: previous) {
                    replaced.append(releaseInstance(previous, description: old, in: &state))
                }
                return InstanceRegistration(id: id, leaseDuration: shared.leaseDuration, replaced: replaced)
            }
            me.withLock { $0 = registration.id }
            return registration
        }

        private func releaseInstance(
            _ id: InstanceID,
            description: InstanceDescription,
            in state: inout Ownership
        ) -> ReleasedInstance {
            let jobs = state.owners.filter { $0.value == id }.map(\.key)
            for job in jobs { shared.release(job, in: &state) }
            state.expired.remove(id)
            if !jobs.isEmpty { shared.announce(in: state, except: id) }
            return ReleasedInstance(id: id, host: description.host, pid: description.pid, jobs: jobs.count)
        }

        public func renewLease() async throws -> LeaseRenewal {
            let me = self.me.withLock { $0 }
            return shared.ownership.withLock { state in
                guard let me, state.instances[me] != nil, !state.expired.contains(me) else { return .lost }
                return .renewed(duration: shared.leaseDuration)
            }
        }

        public func releaseExpiredInstances() async throws -> [ReleasedInstance] {
            shared.ownership.withLock { state in
                state.expired.compactMap { id in
                    state.instances.removeValue(forKey: id).map { releaseInstance(id, description: $0, in: &state) }
                }
            }
        }

        /// Jobs whose owner is not a registered instance (a test that broke the rules).
        public var orphans: [JobID] {
            shared.ownership.withLock { state in
                state.owners.filter { state.instances[$0.value] == nil }.map(\.key)
            }
        }

        public func claimReleasedWork(_ limits: ClaimLimits) async throws -> RecoveredState {
            let me = self.me.withLock { $0 }
            guard let me else { return RecoveredState() }
            return shared.ownership.withLock { state in
                var work = RecoveredState()
                // Only a live instance takes work: one whose lease ran out would take jobs under an
                // identity nobody can release any more.
                guard state.instances[me] != nil, !state.expired.contains(me) else { return work }
                var queued = 0
                var others = 0
                for job in shared.data.allJobs where state.owners[job.id] == nil {
                    let wanted: Bool
                    if job.phase == .queued {
                        wanted = queued < limits.queued
                        if wanted { queued += 1 }
                    } else if !job.phase.isTerminal || shared.data.hasPendingDelivery(job.id) {
                        wanted = others < limits.others
                        if wanted { others += 1 }
                    } else {
                        wanted = false
                    }
                    guard wanted else { continue }
                    state.owners[job.id] = me
                    state.fences[job.id, default: 0] += 1
                    var held = job
                    held.fence = state.fences[job.id, default: 0]
                    if !job.phase.isTerminal { work.activeJobs.append(held) }
                    work.pendingDeliveries += shared.data.allDeliveries
                        .filter { $0.jobID == job.id && $0.state == .pending }
                        .map { delivery in
                            var delivery = delivery
                            delivery.fence = held.fence
                            return delivery
                        }
                }
                work.cancelRequests = state.cancelRequests.filter { state.owners[$0] == me }.sorted { $0.rawValue < $1.rawValue }
                state.cancelRequests.subtract(work.cancelRequests)
                return work
            }
        }

        public func claimJob(_ id: JobID) async throws -> JobClaim {
            let me = self.me.withLock { $0 }
            return try shared.ownership.withLock { state in
                guard var job = shared.data.peek(id) else { return .notFound }
                guard let me, state.instances[me] != nil, !state.expired.contains(me) else {
                    throw LeaseLost(jobs: [id])
                }
                if let owner = state.owners[id], owner != me, let description = state.instances[owner],
                    !state.expired.contains(owner)
                {
                    return .heldElsewhere(job, by: description)
                }
                let newlyClaimed = state.owners[id] != me
                if newlyClaimed {
                    state.owners[id] = me
                    state.fences[id, default: 0] += 1
                }
                job.fence = state.fences[id, default: 0]
                let deliveries = shared.data.allDeliveries.filter { $0.jobID == id && $0.state == .pending }
                    .map { delivery in
                        var delivery = delivery
                        delivery.fence = job.fence
                        return delivery
                    }
                return .held(job, pendingDeliveries: deliveries, newlyClaimed: newlyClaimed)
            }
        }

        public func releaseOwnership() async throws {
            let me = self.me.withLock { $0 }
            guard let me else { return }
            shared.ownership.withLock { state in
                if let description = state.instances.removeValue(forKey: me) {
                    _ = releaseInstance(me, description: description, in: &state)
                }
                state.announcements[me]?.finish()
                state.announcements[me] = nil
            }
        }

        public func workAnnouncements() -> AsyncStream<Void> {
            let me = self.me.withLock { $0 } ?? InstanceID("unregistered")
            let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            shared.ownership.withLock { $0.announcements[me] = continuation }
            return stream
        }

        // MARK: Reads

        public func recover() async throws -> RecoveredState {
            var work = try await claimReleasedWork(ClaimLimits(queued: .max, others: .max))
            let everything = try await data.recover()
            work.finishedCounts = everything.finishedCounts
            return work
        }

        public func containsJob(_ id: JobID) async throws -> Bool { try await data.containsJob(id) }
        public func jobTaken(fromSource identity: String) async throws -> JobID? { nil }
        public func job(_ id: JobID) async throws -> Job? { try await data.job(id) }
        public func requestBody(for id: JobID) async throws -> [UInt8]? { try await data.requestBody(for: id) }
        public func event(id: String) async throws -> WebhookEvent? { try await data.event(id: id) }
        public func outcome(for id: JobID) async throws -> OutcomeSnapshot? { try await data.outcome(for: id) }

        public func jobAccepted(fromFileWithSHA256 sha256: String, since: Timestamp) async throws -> (JobID, Timestamp)? {
            try await data.jobAccepted(fromFileWithSHA256: sha256, since: since)
        }

        public func recentCompletions(limit: Int) async throws -> [CompletionObservation] {
            try await data.recentCompletions(limit: limit)
        }

        public func failedDeliveries(since: Timestamp) async throws -> [Delivery] {
            try await data.failedDeliveries(since: since)
        }

        public func finishedJobs(before cutoff: Timestamp, limit: Int) async throws -> [Job] {
            try await data.finishedJobs(before: cutoff, limit: limit)
        }
    }
}

extension StoreChange {
    /// The job a change is about (`nil` for a delivery attempt's record).
    fileprivate var jobID: JobID? {
        switch self {
        case .insertJob(let job, _, _), .updateJob(let job): job.id
        case .insertEvent(let event, _): event.jobID
        case .addDelivery(let delivery), .updateDelivery(let delivery): delivery.jobID
        case .sourceSettled(let id), .outcomeWritten(let id, _), .deleteJob(let id),
            .recordLateGeneration(let id, _, _), .requestCancel(let id):
            id
        case .recordDeliveryAttempt(let attempt): attempt.jobID
        case .reserveSpend(let reservation): reservation.jobID
        }
    }
}

extension InMemoryJobStore {
    /// A job as stored, without suspending.
    func peek(_ id: JobID) -> Job? {
        allJobs.first { $0.id == id }
    }

    func hasPendingDelivery(_ id: JobID) -> Bool {
        allDeliveries.contains { $0.jobID == id && $0.state == .pending }
    }
}
