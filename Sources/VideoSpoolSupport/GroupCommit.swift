import Synchronization

/// Group commit, as databases do it: while one caller (the leader) writes a transaction, commits
/// from other tasks queue up, and the leader writes them all in its next transaction, so a burst
/// of commits costs a few transactions (and fsyncs) rather than one each. Each caller returns when
/// its own changes are durable, with its own outcome.
///
/// Both job stores (SQLite and PostgreSQL) commit through one of these; `write` is theirs. SQLite
/// has one writer, so one transaction at a time. A database server can take more: with two, one
/// transaction's round trips overlap the next one's, instead of the daemon and the server taking
/// turns (the transactions of two leaders lock their rows, and a deadlock is retried by the store).
public final class GroupCommit<Change: Sendable>: Sendable {
    /// Writes each caller's changes (one array per caller), in as few transactions as it can,
    /// and returns each caller's error (`nil` for success), in order.
    public typealias Write = @Sendable ([[Change]]) async -> [(any Error)?]

    private typealias Waiter = (changes: [Change], continuation: CheckedContinuation<Role, any Error>)

    private enum Role {
        case leader
        case committed
    }

    private struct State {
        /// Callers writing a transaction now (at most ``maximumTransactions``).
        var leaders = 0
        var waiting: [Waiter] = []
        /// Changes that go with the next transaction instead of one of their own (``ride(_:)``).
        var riders: [Change] = []
    }

    private let state = Mutex(State())
    /// How many transactions may be written at the same time.
    public let maximumTransactions: Int

    public init(maximumTransactions: Int = 1) {
        precondition(maximumTransactions >= 1)
        self.maximumTransactions = maximumTransactions
    }

    /// Commits `changes` together with whatever else is committed meanwhile, with `write`.
    public func commit(_ changes: [Change], write: Write) async throws {
        guard !changes.isEmpty else { return }
        let role = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Role, any Error>) in
            let leader = state.withLock { state -> Bool in
                if state.leaders == maximumTransactions {
                    state.waiting.append((changes, continuation))
                    return false
                }
                state.leaders += 1
                return true
            }
            if leader { continuation.resume(returning: .leader) }
        }
        guard case .leader = role else { return }
        try await lead(with: changes, write: write)
    }

    /// Adds `changes` to the next transaction any caller starts, without starting one: for
    /// bookkeeping whose loss in a crash costs only redoing it at the next start. Whether they
    /// were written is not reported; a rider that fails its transaction is dropped.
    public func ride(_ changes: [Change]) {
        guard !changes.isEmpty else { return }
        state.withLock { $0.riders.append(contentsOf: changes) }
    }

    /// Changes waiting for the next transaction (for tests).
    public var riderCount: Int { state.withLock { $0.riders.count } }

    /// How many commits are queued behind the one being written (for tests).
    public var queuedCount: Int { state.withLock { $0.waiting.count } }

    /// Writes this caller's changes and everything queued meanwhile, in as few transactions as it
    /// takes for the queue to drain; followers are resumed when their transaction is durable.
    private func lead(with own: [Change], write: Write) async throws {
        var ownChanges: [Change]? = own
        var ownError: (any Error)?
        var (followers, riders) = state.withLock { state in Self.takeQueue(&state) }
        while true {
            // A closure, not `\.changes`: a key path in generic code is instantiated at run time, on
            // every transaction (about 1.5 % of the daemon's CPU at moderate rates).
            let callers = (ownChanges.map { [$0] } ?? []) + followers.map { $0.changes } + (riders.isEmpty ? [] : [riders])
            var errors = await write(callers)[...]
            if ownChanges != nil { ownError = errors.removeFirst() }
            ownChanges = nil
            // Cancelled while writing (a shutdown during an outage): that is this caller's outcome
            // only. The followers were not cancelled; one of them leads on with the rest.
            if Task.isCancelled, errors.contains(where: { $0 is CancellationError }) {
                state.withLock { $0.riders.insert(contentsOf: riders, at: 0) }
                handOverLeadership(to: followers)
                break
            }
            for (follower, error) in zip(followers, errors) {
                if let error {
                    follower.continuation.resume(throwing: error)
                } else {
                    follower.continuation.resume(returning: .committed)
                }
            }
            // The queue is taken in the same lock that ends the leadership when it is empty, so
            // that another leader cannot leave this one an empty transaction to write.
            let next = state.withLock { state -> (followers: [Waiter], riders: [Change])? in
                if state.waiting.isEmpty {
                    state.leaders -= 1
                    return nil
                }
                return Self.takeQueue(&state)
            }
            guard let next else { break }
            (followers, riders) = next
        }
        if let ownError { throw ownError }
    }

    private static func takeQueue(_ state: inout State) -> (followers: [Waiter], riders: [Change]) {
        defer {
            state.waiting.removeAll()
            state.riders.removeAll()
        }
        return (state.waiting, state.riders)
    }

    /// Puts `followers` back at the head of the queue and makes the first queued caller the leader,
    /// or ends the group if nobody is waiting.
    private func handOverLeadership(to followers: [Waiter]) {
        let next = state.withLock { state -> CheckedContinuation<Role, any Error>? in
            state.waiting.insert(contentsOf: followers, at: 0)
            guard !state.waiting.isEmpty else {
                state.leaders -= 1
                return nil
            }
            return state.waiting.removeFirst().continuation
        }
        next?.resume(returning: .leader)
    }
}
