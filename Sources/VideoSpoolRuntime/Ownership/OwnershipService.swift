public import Logging
public import ServiceLifecycle
import Synchronization
public import VideoSpoolCore

/// Keeps this daemon's share of a shared store: renews its lease, stops acting the moment the lease
/// is gone (and registers again), releases the jobs of daemons whose lease ran out, and claims
/// released work into the pipeline. On a clean stop, after the pipeline has drained, it gives every
/// job back so that the other daemons take them at once. Only runs on a shared store.
public final class OwnershipService: Service, Sendable {
    public struct Configuration: Sendable {
        /// How often the lease is renewed (a third of its duration).
        public var renewalInterval: Duration
        /// How often expired instances are looked for (±25 % jitter).
        public var reaperInterval: Duration
        /// How often released work is claimed without an announcement.
        public var claimInterval: Duration
        /// Jobs other than queued ones taken per claim.
        public var claimBatch: Int

        public init(
            renewalInterval: Duration = .seconds(5),
            reaperInterval: Duration = .seconds(2),
            claimInterval: Duration = .seconds(1),
            claimBatch: Int = 200
        ) {
            self.renewalInterval = renewalInterval
            self.reaperInterval = reaperInterval
            self.claimInterval = claimInterval
            self.claimBatch = claimBatch
        }
    }

    private let store: any JobStore
    private let ownership: Ownership
    private let pipeline: Pipeline
    private let instance: InstanceDescription
    private let configuration: Configuration
    private let applyCancel: @Sendable (JobID) async -> Void
    private let onRegistered: @Sendable (InstanceID) -> Void
    private let logger: Logger
    private let wake = WakeSignal()
    private let stopping = Mutex(false)
    /// The lease loop's own wake-up, when a renewal has finished.
    private let leaseWake = WakeSignal()
    /// Whether a renewal is on its way.
    private let renewing = Mutex(false)
    /// Whether the database failed to answer the last renewal (logged once per outage).
    private let databaseDown = Mutex(false)

    /// - Parameters:
    ///   - applyCancel: cancels a job this daemon holds (an operator asked from another host).
    ///   - onRegistered: called with each new instance id (it is remembered in the state directory).
    public init(
        store: any JobStore,
        ownership: Ownership,
        pipeline: Pipeline,
        instance: InstanceDescription,
        configuration: Configuration,
        logger: Logger,
        applyCancel: @escaping @Sendable (JobID) async -> Void,
        onRegistered: @escaping @Sendable (InstanceID) -> Void = { _ in }
    ) {
        self.store = store
        self.ownership = ownership
        self.pipeline = pipeline
        self.instance = instance
        self.configuration = configuration
        self.logger = logger
        self.applyCancel = applyCancel
        self.onRegistered = onRegistered
        pipeline.context.heartbeats.watch(.ownership)
    }

    private var isStopping: Bool { stopping.withLock { $0 } }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.keepLease() }
            group.addTask { await self.forwardAnnouncements() }
            await withGracefulShutdownHandler {
                await self.claimWork()
            } onGracefulShutdown: {
                self.stopping.withLock { $0 = true }
                self.wake.signal()
            }
            // The pipeline has drained (this service stops after it): give everything back.
            await self.release()
            group.cancelAll()
        }
    }

    // MARK: - Lease

    /// The lease loop never waits on the database itself: each renewal runs in a task of its own
    /// (with a deadline), while the loop keeps beating for the watchdog and checks the lease on the
    /// monotonic clock, so a database that does not answer shows as one, not as a wedged daemon.
    private func keepLease() async {
        await withDiscardingTaskGroup { group in
            var nextRenewal = pipeline.context.time.now()
            while !Task.isCancelled {
                let now = pipeline.context.time.now()
                pipeline.context.heartbeats.beat(.ownership, at: now)
                if now >= nextRenewal, startRenewal() {
                    nextRenewal = now + configuration.renewalInterval
                    group.addTask {
                        defer {
                            self.renewing.withLock { $0 = false }
                            self.leaseWake.signal()
                        }
                        await self.renewOnce()
                    }
                }
                if ownership.hasExpired() {
                    loseLease(reason: "the lease ran out before the database confirmed a renewal")
                }
                // While a renewal is on its way, wait for it (it signals when done, within its own
                // deadline) or the next beat: never spin on a renewal time already passed.
                let due = renewing.withLock { $0 } ? nil : nextRenewal
                let deadline = pipeline.context.heartbeats.wakeDeadline(due, now: now)
                await leaseWake.wait(until: deadline, time: pipeline.context.time)
            }
        }
    }

    /// Marks a renewal as on its way; `false` when one already is.
    private func startRenewal() -> Bool {
        renewing.withLock { started in
            defer { started = true }
            return !started
        }
    }

    /// One renewal (or, after a loss, one registration), with its outcome recorded.
    private func renewOnce() async {
        let sentAt = ownership.now()
        do {
            if ownership.lostInstance != nil {
                try await registerAgain(sentAt: sentAt)
            } else {
                let renewal = try await withDeadline(configuration.renewalInterval) {
                    try await self.store.renewLease()
                }
                switch renewal {
                case .renewed(let duration):
                    ownership.renewed(sentAt: sentAt, duration: duration)
                case .lost:
                    loseLease(reason: "the store no longer knows this instance (its lease ran out)")
                }
            }
            ownership.databaseUnreachable(nil)
            if databaseDown.withLock({ was in defer { was = false }; return was }) {
                logger.notice("The database answers again", metadata: ["event": "database.recovered"])
            }
        } catch {
            guard !Task.isCancelled else { return }
            ownership.databaseUnreachable("database unreachable")
            if databaseDown.withLock({ was in defer { was = true }; return !was }) {
                logger.error(
                    "The database is unavailable; work waits until it answers",
                    metadata: ["event": "database.unavailable", "error": "\(error)"]
                )
            }
        }
    }

    private func loseLease(reason: String) {
        guard ownership.lose() else { return }
        let dropped = pipeline.abandonAll()
        logger.error(
            "Lease lost: this daemon stopped acting on its jobs and registers again",
            metadata: [
                "event": "lease.lost", "instance": "\(ownership.instance)", "reason": "\(reason)",
                "jobs.dropped": "\(dropped)",
            ]
        )
    }

    private func registerAgain(sentAt: Duration) async throws {
        let registration = try await withDeadline(configuration.renewalInterval) {
            try await self.store.register(self.instance, replacing: self.ownership.lostInstance)
        }
        ownership.registered(registration, sentAt: sentAt)
        onRegistered(registration.id)
        logger.notice(
            "Registered again after losing the lease",
            metadata: ["event": "lease.registered", "instance": "\(registration.id)"]
        )
        wake.signal()
    }

    // MARK: - Claims

    private func forwardAnnouncements() async {
        for await _ in store.workAnnouncements() {
            wake.signal()
        }
    }

    private func claimWork() async {
        var nextReap = pipeline.context.time.now()
        var failing = false
        while !isStopping, !Task.isCancelled {
            let now = pipeline.context.time.now()
            if ownership.mayAct() {
                do {
                    if now >= nextReap {
                        try await reap()
                        // Jitter keeps daemons started together from reaping in lock step.
                        nextReap = now + configuration.reaperInterval * Double.random(in: 0.75...1.25)
                    }
                    let limits = ClaimLimits(queued: pipeline.queueRoom, others: configuration.claimBatch)
                    let work = try await store.claimReleasedWork(limits)
                    if !isStopping, ownership.mayAct() {
                        try await adopt(work)
                    }
                    failing = false
                } catch is LeaseLost {
                    // A job moved on while it was being adopted; the next round takes what is left.
                } catch {
                    if !failing {
                        failing = true
                        logger.warning("Claiming released work failed; trying again", metadata: ["error": "\(error)"])
                    }
                }
            }
            await wake.wait(until: pipeline.context.time.now() + configuration.claimInterval, time: pipeline.context.time)
        }
    }

    private func reap() async throws {
        for released in try await store.releaseExpiredInstances() {
            logger.log(
                level: released.jobs > 0 ? .notice : .debug,
                "Jobs taken over from a daemon whose lease ran out",
                metadata: [
                    "event": "jobs.taken_over", "instance.released": "\(released.id)",
                    "instance.host": "\(released.host)", "instance.pid": "\(released.pid)",
                    "jobs": "\(released.jobs)",
                ]
            )
        }
    }

    private func adopt(_ work: RecoveredState) async throws {
        guard !work.activeJobs.isEmpty || !work.pendingDeliveries.isEmpty || !work.staleOutcomes.isEmpty
            || !work.unsettledSources.isEmpty || !work.cancelRequests.isEmpty
        else { return }
        if !work.activeJobs.isEmpty {
            logger.info(
                "Claimed released jobs",
                metadata: ["event": "jobs.claimed", "jobs": "\(work.activeJobs.count)"]
            )
        }
        try await pipeline.adopt(work)
        for id in work.cancelRequests { await applyCancel(id) }
    }

    private func release() async {
        do {
            try await withDeadline(.seconds(10)) { try await self.store.releaseOwnership() }
            logger.notice("Gave every job back to the shared store", metadata: ["event": "lease.released"])
        } catch {
            logger.warning(
                "Could not give the jobs back; other daemons take them when the lease runs out",
                metadata: ["error": "\(error)"]
            )
        }
    }
}
