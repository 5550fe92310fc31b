import Synchronization
public import VideoSpoolCore
import VideoSpoolSupport

/// A `JobStore` in memory with the same semantics as the SQLite store (outcome versions, unsettled
/// sources), for runtime tests. Survives "restarts" by being handed to a new pipeline.
public final class InMemoryJobStore: JobStore, Sendable {
    private struct Record {
        var job: Job
        var source: SourceFile
        var sourceSettled = false
        var outcomeVersion = 0
        var outcomeWrittenVersion = 0
    }

    private struct State {
        /// ``commitWithNext(_:)``'s changes, applied with the next commit.
        var riders: [StoreChange] = []
        var requestBodyReads = 0
        var records: [JobID: Record] = [:]
        var order: [JobID] = []
        var requests: [JobID: [UInt8]] = [:]
        var events: [String: WebhookEvent] = [:]
        var deliveries: [Delivery.ID: Delivery] = [:]
        var attempts: [DeliveryAttempt] = []
        var ledger = InMemoryLedger()
        var commits = 0
    }

    private let state = Mutex(State())
    /// Set by a test to stand for a full disk: commits wait until it is `.available` again.
    private let outage = Mutex<(availability: StoreAvailability, waiters: [CheckedContinuation<Void, Never>])>(
        (.available, [])
    )

    /// One element each time a commit starts to wait for an unavailable store.
    private let waits = ReplayingBroadcast<Void>()

    public init() {}

    public var availability: StoreAvailability { outage.withLock { $0.availability } }

    /// Every commit that has waited for the store so far, then every new one, as it starts to wait.
    public func waitingCommits() -> AsyncStream<Void> {
        waits.subscribe()
    }

    /// Makes commits wait (`.unavailable`) or lets the waiting ones through (`.available`), as a
    /// real store does while its disk is full.
    public func setAvailability(_ availability: StoreAvailability) {
        let released = outage.withLock { outage -> [CheckedContinuation<Void, Never>] in
            outage.availability = availability
            guard availability.isAvailable else { return [] }
            defer { outage.waiters.removeAll() }
            return outage.waiters
        }
        for waiter in released { waiter.resume() }
    }

    private func waitUntilAvailable() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let available = outage.withLock { outage -> Bool in
                if outage.availability.isAvailable { return true }
                outage.waiters.append(continuation)
                return false
            }
            if available {
                continuation.resume()
            } else {
                waits.append(())
            }
        }
    }

    /// Number of `commit` calls so far.
    public var commitCount: Int { state.withLock { $0.commits } }

    public var allJobs: [Job] { state.withLock { state in state.order.compactMap { state.records[$0]?.job } } }

    public var allDeliveries: [Delivery] { state.withLock { Array($0.deliveries.values) } }

    public var allDeliveryAttempts: [DeliveryAttempt] { state.withLock { $0.attempts } }

    /// The spend ledger, oldest entry first.
    public var spendEntries: [SpendEntry] { state.withLock { $0.ledger.entries } }

    public func commit(_ changes: [StoreChange]) async throws {
        await waitUntilAvailable()
        try commitNow(changes)
    }

    /// ``commit(_:)`` without suspending, for a caller that must hold its own lock around it.
    func commitNow(_ changes: [StoreChange]) throws {
        try state.withLock { state in
            var copy = state
            copy.riders = []
            for change in state.riders + changes { try Self.apply(change, to: &copy) }
            copy.commits += 1
            state = copy
        }
    }

    public func commitWithNext(_ changes: [StoreChange]) {
        state.withLock { $0.riders.append(contentsOf: changes) }
    }

    /// Changes waiting for the next commit.
    public var riderCount: Int { state.withLock { $0.riders.count } }

    private static func apply(_ change: StoreChange, to state: inout State) throws {
        switch change {
        case .insertJob(let job, let body, let source):
            guard state.records[job.id] == nil else { throw InMemoryStoreError.duplicateJob(job.id) }
            state.records[job.id] = Record(job: job, source: source)
            state.order.append(job.id)
            if job.phase != .rejected { state.requests[job.id] = body }
        case .updateJob(let job):
            guard var record = state.records[job.id] else { throw InMemoryStoreError.unknownJob(job.id) }
            state.ledger.settle(job, at: job.finishedAt ?? job.submittedAt ?? job.acceptedAt)
            record.job = job
            if job.phase.hasOutcomeFile { record.outcomeVersion += 1 }
            state.records[job.id] = record
        case .insertEvent(let event, let deliveries):
            state.events[event.id] = event
            for delivery in deliveries { state.deliveries[delivery.id] = delivery }
            markStale(event.jobID, in: &state)
        case .addDelivery(let delivery):
            state.deliveries[delivery.id] = delivery
            markStale(delivery.jobID, in: &state)
        case .updateDelivery(let delivery):
            state.deliveries[delivery.id] = delivery
            markStale(delivery.jobID, in: &state)
        case .sourceSettled(let id):
            state.records[id]?.sourceSettled = true
        case .outcomeWritten(let id, let version):
            if let record = state.records[id] {
                state.records[id]?.outcomeWrittenVersion = max(record.outcomeWrittenVersion, version)
            }
        case .recordDeliveryAttempt(let attempt):
            state.attempts.append(attempt)
        case .deleteJob(let id):
            state.records[id] = nil
            state.order.removeAll { $0 == id }
            state.requests[id] = nil
            state.events = state.events.filter { $0.value.jobID != id }
            state.deliveries = state.deliveries.filter { $0.value.jobID != id }
            state.attempts.removeAll { $0.jobID == id }
        case .recordLateGeneration(let id, let generationID, let submittedAt):
            guard var record = state.records[id], record.job.generationID == nil else { return }
            record.job.generationID = generationID
            if record.job.phase == .submitting {
                record.job.phase = .generating
                record.job.submittedAt = submittedAt
                record.job.nextActionAt = nil
            }
            state.records[id] = record
        case .requestCancel:
            break
        case .reserveSpend(let reservation):
            try state.ledger.reserve(reservation)
        }
    }

    private static func markStale(_ id: JobID, in state: inout State) {
        if state.records[id]?.job.phase != .rejected { state.records[id]?.outcomeVersion += 1 }
    }

    public func recover() async throws -> RecoveredState {
        state.withLock { state in
            var recovered = RecoveredState()
            for id in state.order {
                guard let record = state.records[id] else { continue }
                if !record.job.phase.isTerminal { recovered.activeJobs.append(record.job) }
                if record.outcomeVersion > record.outcomeWrittenVersion,
                    record.job.phase.hasOutcomeFile
                {
                    recovered.staleOutcomes.append(id)
                }
                if !record.sourceSettled { recovered.unsettledSources.append((id, record.source)) }
                if record.job.phase.isTerminal { recovered.finishedCounts[record.job.phase, default: 0] += 1 }
            }
            recovered.pendingDeliveries = state.deliveries.values.filter { $0.state == .pending }
                .sorted { $0.id.description < $1.id.description }
            return recovered
        }
    }

    public func containsJob(_ id: JobID) async throws -> Bool {
        state.withLock { $0.records[id] != nil }
    }

    public func jobAccepted(fromFileWithSHA256 sha256: String, since: Timestamp) async throws -> (JobID, Timestamp)? {
        state.withLock { state in
            state.order.reversed().compactMap { state.records[$0] }.first {
                $0.source.sha256 == sha256 && $0.job.acceptedAt >= since && $0.job.phase != .rejected
            }.map { ($0.job.id, $0.job.acceptedAt) }
        }
    }

    public func job(_ id: JobID) async throws -> Job? {
        state.withLock { $0.records[id]?.job }
    }

    public func requestBody(for id: JobID) async throws -> [UInt8]? {
        state.withLock { state in
            state.requestBodyReads += 1
            return state.requests[id]
        }
    }

    /// How many times a request body was read back.
    public var requestBodyReads: Int { state.withLock { $0.requestBodyReads } }

    public func event(id: String) async throws -> WebhookEvent? {
        state.withLock { $0.events[id] }
    }

    public func outcome(for id: JobID) async throws -> OutcomeSnapshot? {
        state.withLock { state in
            guard let record = state.records[id],
                let event = state.events.values.filter({ $0.jobID == id }).max(by: { $0.createdAt < $1.createdAt })
            else { return nil }
            let deliveries = state.deliveries.values.filter { $0.id.eventID == event.id }.sorted { $0.id.index < $1.id.index }
            return OutcomeSnapshot(job: record.job, event: event, deliveries: deliveries, version: record.outcomeVersion)
        }
    }

    public func recentCompletions(limit: Int) async throws -> [CompletionObservation] {
        state.withLock { state in
            let completed = state.order.compactMap { state.records[$0]?.job }
                .filter { $0.phase == .completed && $0.lastRunningAt != nil }
                .sorted { ($0.finishedAt ?? $0.acceptedAt) < ($1.finishedAt ?? $1.acceptedAt) }
            return completed.suffix(max(0, limit)).compactMap(CompletionObservation.init(job:))
        }
    }

    public func failedDeliveries(since: Timestamp) async throws -> [Delivery] {
        state.withLock { state in
            state.deliveries.values.filter { $0.state == .failed && ($0.lastAttemptAt ?? since) >= since }
                .sorted { $0.id.description < $1.id.description }
        }
    }

    public func finishedJobs(before cutoff: Timestamp, limit: Int) async throws -> [Job] {
        state.withLock { state in
            let pending = Set(state.deliveries.values.filter { $0.state == .pending }.map(\.jobID))
            return state.order.compactMap { state.records[$0] }
                .filter { record in
                    record.job.phase.isTerminal && record.sourceSettled && !pending.contains(record.job.id)
                        && (record.job.finishedAt ?? record.job.acceptedAt) < cutoff
                }
                .map(\.job)
                .sorted { ($0.finishedAt ?? $0.acceptedAt) < ($1.finishedAt ?? $1.acceptedAt) }  // stable: ties by arrival
                .prefix(max(0, limit))
                .map { $0 }
        }
    }

    /// Whether the spool file of `id` is recorded as gone from `incoming/`.
    public func isSourceSettled(_ id: JobID) -> Bool {
        state.withLock { $0.records[id]?.sourceSettled ?? false }
    }
}

public enum InMemoryStoreError: Error {
    case duplicateJob(JobID)
    case unknownJob(JobID)
}

/// One owner, as on SQLite.
extension InMemoryJobStore {
    public func register(
        _ instance: InstanceDescription,
        replacing previous: InstanceID?
    ) async throws -> InstanceRegistration {
        InstanceRegistration(id: InstanceID("in-memory"), leaseDuration: nil)
    }

    public func renewLease() async throws -> LeaseRenewal { .renewed(duration: .seconds(86_400)) }

    public func releaseExpiredInstances() async throws -> [ReleasedInstance] { [] }

    public func claimReleasedWork(_ limits: ClaimLimits) async throws -> RecoveredState { RecoveredState() }

    public func claimJob(_ id: JobID) async throws -> JobClaim {
        guard let job = try await job(id) else { return .notFound }
        return .held(job, pendingDeliveries: allDeliveries.filter { $0.jobID == id && $0.state == .pending }, newlyClaimed: false)
    }

    public func releaseOwnership() async throws {}

    public func jobTaken(fromSource identity: String) async throws -> JobID? { nil }

    public func workAnnouncements() -> AsyncStream<Void> { AsyncStream { $0.finish() } }
}
