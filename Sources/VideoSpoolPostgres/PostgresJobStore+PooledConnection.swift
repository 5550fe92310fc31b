import Logging
import PostgresNIO
import Synchronization

extension PostgresJobStore {
    /// Leases a pooled connection for `body`.
    ///
    /// The pool queues a lease while it cannot connect, so a lease not granted within the statement
    /// timeout is given up (``PostgresStoreError/unreachable(after:)``) and the caller decides whether
    /// to wait; a lease given up is never run later. Once granted, `body` runs to its end, with one
    /// exception: if its connection has closed and `body` is still running a full timeout later, it
    /// waits on a query postgres-nio lost with the connection (see `PostgresConnection+Open.swift`).
    /// It is then left behind as ``PostgresStoreError/connectionFailed(_:)``: what it wrote after the
    /// close never reached the server, so its transaction cannot commit, and trying again is safe.
    func withPooledConnection<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let lease = PooledLease<Result>()
        let client = self.client
        let limit = configuration.statementTimeout
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                lease.begin(continuation)
                let work = Task {
                    do {
                        let value = try await client.withConnection { connection in
                            guard lease.grant(connection) else { throw CancellationError() }
                            return try await body(connection)
                        }
                        lease.end(.finished(.success(value)))
                    } catch {
                        lease.end(.finished(.failure(error)))
                    }
                }
                let watchdog = Task { await lease.watch(every: limit) }
                lease.attach(work: work, watchdog: watchdog)
            }
        } onCancel: {
            lease.cancel()
        }
        switch outcome {
        case .finished(.success(let value)):
            return value
        case .finished(.failure(let error)):
            if Task.isCancelled { throw CancellationError() }
            guard !lease.wasGranted else { throw error }
            if let error = error as? PSQLError, error.code == .poolClosed { throw PostgresStoreError.closed }
            // Any other failure to get a connection is the database being out of reach.
            if error is CancellationError { throw error }
            throw PostgresStoreError.connectionFailed(Self.describe(error))
        case .notGranted:
            if Task.isCancelled { throw CancellationError() }
            throw await diagnoseMissingConnection(waited: limit)
        case .lostWithTheConnection:
            logger.warning(
                "A query was lost with its closed connection; the transaction is tried again",
                metadata: ["event": "store.query_lost"]
            )
            throw PostgresStoreError.connectionFailed("the connection closed during a query")
        }
    }
}

/// One lease of a pooled connection, raced against a watchdog that gives up on it (see
/// ``PostgresJobStore/withPooledConnection(_:)``). Its caller is resumed exactly once.
final class PooledLease<Value: Sendable>: Sendable {
    enum Outcome: Sendable {
        case finished(Result<Value, any Error>)
        /// No connection within the time limit; the lease will not be used if granted later.
        case notGranted
        /// The connection closed and `body` did not end within the time limit after.
        case lostWithTheConnection
    }

    private enum Phase {
        case waiting
        case granted(PostgresConnection, closedAtLastLook: Bool)
        case over
    }

    private struct State {
        var phase = Phase.waiting
        var wasGranted = false
        var continuation: CheckedContinuation<Outcome, Never>?
        var work: Task<Void, Never>?
        var watchdog: Task<Void, Never>?
        var cancelled = false
    }

    private let state = Mutex(State())

    var wasGranted: Bool { state.withLock { $0.wasGranted } }

    func begin(_ continuation: CheckedContinuation<Outcome, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Keeps the tasks to cancel; cancels them at once if the lease is already over or cancelled.
    func attach(work: Task<Void, Never>, watchdog: Task<Void, Never>) {
        let (over, cancelled) = state.withLock { state -> (Bool, Bool) in
            state.work = work
            state.watchdog = watchdog
            if case .over = state.phase { return (true, state.cancelled) }
            return (false, state.cancelled)
        }
        if over { watchdog.cancel() }
        if cancelled { work.cancel() }
    }

    /// Whether `body` may run on `connection`: not if the lease was given up meanwhile.
    func grant(_ connection: PostgresConnection) -> Bool {
        state.withLock { state in
            guard case .waiting = state.phase else { return false }
            state.phase = .granted(connection, closedAtLastLook: false)
            state.wasGranted = true
            return true
        }
    }

    func end(_ outcome: Outcome) {
        let (continuation, watchdog) = state.withLock { state in
            state.phase = .over
            defer { state.continuation = nil }
            return (state.continuation, state.watchdog)
        }
        watchdog?.cancel()
        continuation?.resume(returning: outcome)
    }

    /// The caller was cancelled: so is the lease (a queued lease request ends at once).
    func cancel() {
        let work = state.withLock { state in
            state.cancelled = true
            return state.work
        }
        work?.cancel()
    }

    private enum Look {
        case keepWatching
        case stop
        case giveUp(Outcome, CheckedContinuation<Outcome, Never>?, Task<Void, Never>?)
    }

    /// Looks every `interval` until the lease is over; gives up on a lease not granted, or on a
    /// body whose connection was already closed at the previous look.
    func watch(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            // The verdict and the end of the lease are one step, so a grant cannot slip in between.
            let look = state.withLock { state -> Look in
                let verdict: Outcome
                switch state.phase {
                case .waiting:
                    verdict = .notGranted
                case .granted(let connection, let closedAtLastLook):
                    guard closedAtLastLook else {
                        state.phase = .granted(connection, closedAtLastLook: connection.isClosed)
                        return .keepWatching
                    }
                    verdict = .lostWithTheConnection
                case .over:
                    return .stop
                }
                state.phase = .over
                defer { state.continuation = nil }
                return .giveUp(verdict, state.continuation, state.work)
            }
            switch look {
            case .keepWatching:
                continue
            case .stop:
                return
            case .giveUp(let verdict, let continuation, let work):
                // A request still queued in the pool is withdrawn; a lost body stays where it is.
                if case .notGranted = verdict { work?.cancel() }
                continuation?.resume(returning: verdict)
                return
            }
        }
    }
}
