/// The rules for delivering one webhook event to one URL: retry on the schedule, stop on success,
/// on 410 Gone, on a refused address, or when the schedule is used up.
public struct DeliveryStateMachine: Sendable {
    /// How one attempt ended, as the webhook sender observed it.
    public enum AttemptResult: Sendable, Hashable {
        /// The receiver answered; any status (2xx is success, 3xx is not followed).
        case response(statusCode: Int, retryAfter: RetryAfter?, location: String?)
        /// No HTTP answer. `timedOut` marks an overloaded receiver (longer next delay).
        case transportFailure(reason: String, timedOut: Bool)
        /// The URL may not be contacted (non-public address, unusable URL). Not retried.
        case refused(reason: String)
    }

    public enum Action: Sendable, Hashable {
        case delivered
        case retry(at: Timestamp)
        /// The delivery ended without success (`failed`, `gone` or `refused`); it is not retried.
        case stopped(Delivery.State)
    }

    public let schedule: WebhookRetrySchedule

    public init(schedule: WebhookRetrySchedule) {
        self.schedule = schedule
    }

    public func attemptFinished(
        _ delivery: inout Delivery,
        result: AttemptResult,
        now: Timestamp,
        using random: inout some RandomNumberGenerator
    ) -> Action {
        precondition(delivery.state == .pending, "Invalid state: attempt finished for \(delivery.state) delivery")
        delivery.attempts += 1
        delivery.lastAttemptAt = now
        var retryAfter: Duration?
        var overloaded = false
        switch result {
        case .response(let statusCode, let header, let location):
            delivery.lastStatusCode = statusCode
            switch statusCode {
            case 200..<300:
                delivery.state = .delivered
                delivery.deliveredAt = now
                delivery.lastError = nil
                delivery.nextAttemptAt = nil
                return .delivered
            case 410:
                delivery.lastError = "HTTP 410 Gone: the receiver asked not to be sent this again"
                return stop(&delivery, .gone)
            case 300..<400:
                let target = location.map { " to \(HTTPURL.redacting($0))" } ?? ""
                delivery.lastError = "HTTP \(statusCode) redirect\(target) (not followed; update the callback URL)"
            default:
                delivery.lastError = "HTTP \(statusCode)"
                retryAfter = header?.delay(from: now)
                overloaded = statusCode == 429
            }
        case .transportFailure(let reason, let timedOut):
            delivery.lastStatusCode = nil
            delivery.lastError = reason
            overloaded = timedOut
        case .refused(let reason):
            delivery.lastStatusCode = nil
            delivery.lastError = reason
            return stop(&delivery, .refused)
        }
        guard
            let delay = schedule.delay(
                afterAttempts: delivery.attempts,
                retryAfter: retryAfter,
                overloaded: overloaded,
                using: &random
            )
        else {
            return stop(&delivery, .failed)
        }
        delivery.nextAttemptAt = now + delay
        return .retry(at: now + delay)
    }

    /// Marks a delivery refused before any attempt (for example a URL that no longer parses).
    public func refuse(_ delivery: inout Delivery, reason: String) -> Action {
        delivery.lastError = reason
        return stop(&delivery, .refused)
    }

    private func stop(_ delivery: inout Delivery, _ state: Delivery.State) -> Action {
        delivery.state = state
        delivery.nextAttemptAt = nil
        return .stopped(state)
    }
}

extension HTTPURL {
    /// A URL string made safe for logs: query and fragment removed, or a placeholder if unparseable.
    public static func redacting(_ text: String) -> String {
        (try? HTTPURL(parsing: text))?.redacted ?? "(unparseable URL)"
    }
}
