import DequeModule
import Logging
public import ServiceLifecycle
import Synchronization
public import VideoSpoolCore

/// Delivers webhook events: every (event, URL) pair independently, each attempt signed afresh,
/// retried on the schedule. A global limit bounds concurrent attempts and a per-host limit keeps
/// one slow receiver from holding every slot, so a dead receiver never delays the others.
public final class DeliveryService: Service, Sendable {
    public struct Configuration: Sendable {
        public var maximumConcurrentAttempts: Int
        public var maximumConcurrentAttemptsPerHost: Int
        public var userAgent: String

        public init(
            maximumConcurrentAttempts: Int = 64,
            maximumConcurrentAttemptsPerHost: Int = 8,
            userAgent: String = "videospool"
        ) {
            self.maximumConcurrentAttempts = maximumConcurrentAttempts
            self.maximumConcurrentAttemptsPerHost = maximumConcurrentAttemptsPerHost
            self.userAgent = userAgent
        }
    }

    private struct State {
        var pending: [Delivery.ID: Delivery] = [:]
        var timers = TimerQueue<Delivery.ID>()
        /// Event bodies of pending deliveries (loaded from the store after a restart).
        var bodies: [String: [UInt8]] = [:]
        /// Pending deliveries per event, to drop a body when its last delivery ends.
        var remaining: [String: Int] = [:]
        var hostInFlight: [String: Int] = [:]
        var blocked: [String: Deque<Delivery.ID>] = [:]
        var stopping = false
    }

    private let context: PipelineContext
    private let transport: any WebhookTransport
    private let signer: Mutex<WebhookSigner>
    private var machine: DeliveryStateMachine { DeliveryStateMachine(schedule: context.policy.webhookRetries) }
    private let outcomes: OutcomeWriter
    private let configuration: Configuration
    private let slots: RequestSlots
    private let state = Mutex(State())
    private let wake = WakeSignal()

    public init(
        context: PipelineContext,
        transport: any WebhookTransport,
        signer: WebhookSigner,
        outcomes: OutcomeWriter,
        configuration: Configuration = Configuration()
    ) {
        self.context = context
        self.transport = transport
        self.signer = Mutex(signer)
        self.outcomes = outcomes
        self.configuration = configuration
        self.slots = RequestSlots(limit: configuration.maximumConcurrentAttempts)
        slots.notifyOnRelease(wake)
    }

    /// New deliveries of `event`, already committed.
    public func add(_ deliveries: [Delivery], event: WebhookEvent) {
        guard !deliveries.isEmpty else { return }
        state.withLock { state in
            state.bodies[event.id] = event.body
            for delivery in deliveries { schedule(delivery, in: &state) }
        }
        wake.signal()
    }

    /// Pending deliveries found at start-up; their bodies are read from the store when needed.
    public func restore(_ deliveries: [Delivery]) {
        state.withLock { state in
            for delivery in deliveries { schedule(delivery, in: &state) }
        }
        wake.signal()
    }

    /// Deliveries an operator asked to send again (already committed as `pending`), now. Their
    /// bodies are read from the store, so the `webhook-id` and the signed body are the original ones.
    public func redeliver(_ deliveries: [Delivery]) {
        restore(deliveries)
    }

    /// Changes how many attempts may run at once (configuration reload).
    public func setMaximumConcurrentAttempts(_ limit: Int) {
        slots.setLimit(limit)
    }

    /// Replaces the signing key (configuration reload).
    public func updateSigner(_ signer: WebhookSigner) {
        self.signer.withLock { $0 = signer }
    }

    /// Deliveries not yet made nor given up.
    public var pendingDeliveries: Int {
        state.withLock { $0.pending.count }
    }

    /// Jobs with at least one delivery still pending.
    public var deliveringJobs: Int {
        state.withLock { Set($0.pending.values.map(\.jobID)).count }
    }

    private func schedule(_ delivery: Delivery, in state: inout State) {
        if state.pending.updateValue(delivery, forKey: delivery.id) == nil {
            state.remaining[delivery.id.eventID, default: 0] += 1
        }
        state.timers.schedule(delivery.id, at: delivery.nextAttemptAt ?? context.time.now())
    }

    public func run() async throws {
        try await context.runServiceLoop(
            .delivery,
            wake: wake,
            stopping: { self.state.withLock { $0.stopping = true } },
            next: nextStep,
            perform: { attempt, group in
                group.addTask {
                    defer {
                        self.slots.release()
                        self.hostFinished(attempt.host)
                    }
                    try await self.attempt(attempt.delivery)
                }
            }
        )
    }

    /// A delivery attempt to start, its slot and its host's count already taken.
    private struct Attempt {
        var delivery: Delivery
        var host: String
    }

    private func nextStep() -> ServiceLoopStep<Attempt> {
        let now = context.time.now()
        return state.withLock { state -> ServiceLoopStep<Attempt> in
            if state.stopping || Task.isCancelled { return .stop }
            guard let due = state.timers.nextDue() else { return .wait(until: nil) }
            if due > now { return .wait(until: due) }
            // Something is due: a free attempt slot first. Without one, wait for a release (the
            // loop never blocks on the slot: it must keep beating).
            guard slots.tryAcquire() else { return .wait(until: nil) }
            while let id = state.timers.popDue(now: now, limit: 1).first {
                guard let delivery = state.pending[id] else { continue }
                let host = (try? HTTPURL(parsing: delivery.url))?.host ?? ""
                if state.hostInFlight[host, default: 0] >= configuration.maximumConcurrentAttemptsPerHost {
                    state.blocked[host, default: []].append(id)
                    continue
                }
                state.hostInFlight[host, default: 0] += 1
                return .work(Attempt(delivery: delivery, host: host))
            }
            slots.release(notifyingListeners: false)
            return .wait(until: state.timers.nextDue())
        }
    }

    private func hostFinished(_ host: String) {
        let now = context.time.now()
        state.withLock { state in
            state.hostInFlight[host, default: 1] -= 1
            if state.hostInFlight[host] == 0 { state.hostInFlight[host] = nil }
            if let next = state.blocked[host]?.popFirst() {
                state.timers.schedule(next, at: now)
            }
            if state.blocked[host]?.isEmpty == true { state.blocked[host] = nil }
        }
        wake.signal()
    }

    private func attempt(_ delivery: Delivery) async throws {
        var delivery = delivery
        var logger = context.logger
        logger[metadataKey: "job.id"] = "\(delivery.jobID)"
        logger[metadataKey: "webhook.id"] = "\(delivery.id.eventID)"
        logger[metadataKey: "callback.host"] = "\((try? HTTPURL(parsing: delivery.url))?.host ?? "-")"
        logger[metadataKey: "attempt"] = "\(delivery.attempts + 1)"

        let body = try await body(for: delivery.id.eventID)
        guard context.ownership.mayAct() else {
            // The lease is running out: another daemon may hold the job by the time this lands.
            forget(delivery)
            return
        }
        let now = context.time.now()
        let clock = ContinuousClock()
        let started = clock.now
        var random = SystemRandomNumberGenerator()
        let action: DeliveryStateMachine.Action
        if let body {
            let timestamp = now.secondsSinceEpoch
            let signature = signer.withLock {
                $0.signature(messageID: delivery.id.eventID, timestamp: timestamp, body: body)
            }
            let request = WebhookRequest(
                url: delivery.url,
                headers: [
                    ("webhook-id", delivery.id.eventID),
                    ("webhook-timestamp", String(timestamp)),
                    ("webhook-signature", signature),
                    ("content-type", "application/json"),
                    ("user-agent", configuration.userAgent),
                ],
                body: body,
                jobID: delivery.jobID,
                attempt: delivery.attempts + 1
            )
            let result = await transport.send(request)
            action = machine.attemptFinished(&delivery, result: result, now: context.time.now(), using: &random)
        } else {
            action = machine.refuse(&delivery, reason: "the event body is missing from the store")
        }
        let record = DeliveryAttempt(
            deliveryID: delivery.id,
            jobID: delivery.jobID,
            number: delivery.attempts,
            startedAt: now,
            latency: clock.now - started,
            statusCode: delivery.lastStatusCode,
            error: delivery.lastError,
            resultingState: delivery.state
        )
        guard try await context.commitHeld([.updateDelivery(delivery), .recordDeliveryAttempt(record)]) else {
            forget(delivery)
            return
        }

        if let status = delivery.lastStatusCode { logger[metadataKey: "http.status"] = "\(status)" }
        switch action {
        case .delivered:
            logger.info("Webhook delivered", metadata: ["event": "webhook.delivered"])
        case .retry(let at):
            logger.notice(
                "Webhook delivery failed; will retry",
                metadata: ["error": "\(delivery.lastError ?? "-")", "retry.at": "\(at)"]
            )
        case .stopped(let final):
            context.metrics.webhookGivenUp(final)
            logger.warning(
                "Webhook delivery given up",
                metadata: [
                    "event": "webhook.given_up", "delivery.state": "\(final.rawValue)",
                    "error": "\(delivery.lastError ?? "-")",
                ]
            )
        }
        if case .retry(let at) = action {
            state.withLock { state in
                // Unless this daemon gave its jobs up meanwhile (its lease was lost).
                guard state.pending[delivery.id] != nil else { return }
                state.pending[delivery.id] = delivery
                state.timers.schedule(delivery.id, at: at)
            }
        } else {
            forget(delivery)
        }
        outcomes.markStale(delivery.jobID)
    }

    /// Drops a delivery that is over, or no longer this daemon's to make.
    private func forget(_ delivery: Delivery) {
        state.withLock { state in
            guard state.pending.removeValue(forKey: delivery.id) != nil else { return }
            state.timers.cancel(delivery.id)
            let eventID = delivery.id.eventID
            state.remaining[eventID, default: 1] -= 1
            if state.remaining[eventID] == 0 {
                state.remaining[eventID] = nil
                state.bodies[eventID] = nil
            }
        }
    }

    /// Drops every delivery (this daemon's lease is gone). Attempts on the wire finish, but their
    /// results are not committed and nothing is rescheduled. Returns how many jobs were dropped.
    func abandonAll() -> Int {
        state.withLock { state in
            let jobs = Set(state.pending.values.map(\.jobID)).count
            state.pending.removeAll()
            state.timers = TimerQueue()
            state.bodies.removeAll()
            state.remaining.removeAll()
            state.blocked.removeAll()
            return jobs
        }
    }

    private func body(for eventID: String) async throws -> [UInt8]? {
        if let body = state.withLock({ $0.bodies[eventID] }) { return body }
        guard let event = try await context.store.event(id: eventID) else { return nil }
        state.withLock { $0.bodies[eventID] = event.body }
        return event.body
    }
}
