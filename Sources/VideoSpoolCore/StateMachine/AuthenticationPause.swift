/// The pause of every submission (or every poll) after the API refuses the key (401), the account
/// (403) or the address (3xx): one pause per episode, exactly one probe per pause, and a pause that
/// doubles only when its probe is refused.
///
/// When a pause begins, other requests are usually still on the wire (up to
/// `api.max_concurrent_requests`), and they answer late, often with the same refusal. Those answers
/// say nothing new: they neither start another pause nor lengthen or double this one, and neither
/// does a late success. Only the probe, the one request sent when the pause runs out, decides:
/// refused, the pause starts again, twice as long (up to the schedule's maximum); answered any
/// other way, requests flow again at once.
///
/// A value: the runtime keeps one per service under its lock, asks ``admission(now:)`` before
/// sending, and reports every answer with the ``Origin`` it was sent under.
public struct AuthenticationPause: Sendable, Hashable {
    /// Which request an answer belongs to.
    public enum Origin: Sendable, Hashable {
        /// The one request sent when a pause ran out.
        case probe
        /// Any other request, sent while requests flowed; `round` tells a late answer from a
        /// fresh one.
        case regular(round: Int)
    }

    /// Whether a request may be sent now.
    public enum Admission: Sendable, Hashable {
        /// Requests flow: send any number, and report each answer with this origin.
        case open(Origin)
        /// The pause ran out: exactly one request may go, as the probe (``probeSent()``).
        case probeDue
        /// Nothing may be sent before `until`; `nil` while the probe is out (its answer decides).
        case closed(until: Timestamp?)
    }

    /// What the runtime does after an answer.
    public enum Action: Sendable, Hashable {
        /// Nothing changes: requests flow on, or a late answer during a pause.
        case none
        /// A pause begins: nothing is sent until `until`, then one probe.
        case pause(until: Timestamp, reason: String)
        /// The probe was refused (`failedProbes` in a row now): nothing is sent until `until`, then
        /// one probe again.
        case pauseAgain(until: Timestamp, reason: String, failedProbes: Int)
        /// The probe was answered without a refusal: requests flow again.
        case resume
    }

    private enum State: Hashable {
        case open
        case paused(until: Timestamp, reason: String, failedProbes: Int)
        case probing(reason: String, failedProbes: Int)
    }

    private var state = State.open
    /// How many times requests began to flow; an answer to a request of an earlier round is late.
    private var round = 0

    public init() {}

    /// Why requests are paused, while they are (probe out included).
    public var reason: String? {
        switch state {
        case .open: nil
        case .paused(_, let reason, _), .probing(let reason, _): reason
        }
    }

    /// When the current pause runs out; `nil` when requests flow or the probe is out.
    public var resumeAt: Timestamp? {
        guard case .paused(let until, _, _) = state else { return nil }
        return until
    }

    public func admission(now: Timestamp) -> Admission {
        switch state {
        case .open: .open(.regular(round: round))
        case .paused(let until, _, _): now < until ? .closed(until: until) : .probeDue
        case .probing: .closed(until: nil)
        }
    }

    /// The probe is on its way (after ``admission(now:)`` said ``Admission/probeDue``); nothing else
    /// is sent until it is answered.
    public mutating func probeSent() {
        guard case .paused(_, let reason, let failedProbes) = state else {
            preconditionFailure("Invalid state: probe sent while \(state)")
        }
        state = .probing(reason: reason, failedProbes: failedProbes)
    }

    /// The probe was never sent after all (another daemon took its job before it left): the next
    /// request may probe at once.
    public mutating func probeWithdrawn(now: Timestamp) {
        guard case .probing(let reason, let failedProbes) = state else { return }
        state = .paused(until: now, reason: reason, failedProbes: failedProbes)
    }

    /// The API refused a request (401, 403, 3xx) for `reason`.
    ///
    /// - Parameters:
    ///   - schedule: `api.pause_seconds` doubling: the first pause is its retry 1, the pause after
    ///     `n` refused probes its retry `n + 1`.
    public mutating func refused(
        _ origin: Origin,
        reason: String,
        now: Timestamp,
        schedule: Backoff,
        using random: inout some RandomNumberGenerator
    ) -> Action {
        switch (state, origin) {
        case (.open, .regular(let sentIn)):
            // A refusal of a request sent before the last pause ended is older news than the
            // probe that ended it.
            guard sentIn == round else { return .none }
            let until = now + schedule.delay(forRetry: 1, using: &random)
            state = .paused(until: until, reason: reason, failedProbes: 0)
            return .pause(until: until, reason: reason)
        case (.probing(_, let failed), .probe):
            let failedProbes = failed + 1
            let until = now + schedule.delay(forRetry: failedProbes + 1, using: &random)
            state = .paused(until: until, reason: reason, failedProbes: failedProbes)
            return .pauseAgain(until: until, reason: reason, failedProbes: failedProbes)
        case (.paused, .regular), (.probing, .regular):
            return .none
        case (.open, .probe), (.paused, .probe):
            preconditionFailure("Invalid state: probe answered while \(state)")
        }
    }

    /// The API answered a request without refusing it: anything but 401, 403 or 3xx, including
    /// an error or a request that could not be sent (the key was not refused, so the pause is
    /// not the tool for it; the job's own retry rules are).
    public mutating func accepted(_ origin: Origin) -> Action {
        switch (state, origin) {
        case (.probing, .probe):
            state = .open
            round += 1
            return .resume
        case (_, .regular):
            return .none
        case (.open, .probe), (.paused, .probe):
            preconditionFailure("Invalid state: probe answered while \(state)")
        }
    }
}
