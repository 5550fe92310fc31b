import Synchronization

// Waiting in tests without fixed sleeps: every wait awaits an event, and a deadline only bounds how
// long a broken implementation (or a dead daemon) can keep a test waiting. It then fails with a
// message that says what was awaited, instead of running into the suite's time limit.

/// A wait that did not end as expected: its deadline passed, or what it awaited ended first.
public struct TimedOut: Error, CustomStringConvertible {
    public let timeout: Duration
    public let waitingFor: String

    public init(timeout: Duration, waitingFor: String) {
        self.timeout = timeout
        self.waitingFor = waitingFor
    }

    public var description: String { "timed out after \(timeout) waiting for \(waitingFor)" }
}

/// What a wait awaited ended (a stream finished, a process exited) before the wait was over.
public struct EndedEarly: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Races `body` against a timer and returns whichever finishes first. Unlike a task group, it
/// does not wait for a body that ignores cancellation (a blocking system call), so a regression
/// fails the test instead of hanging it. The body is cancelled when the timer wins, and when the
/// calling task is cancelled.
///
/// - Throws: ``TimedOut`` after `timeout`, or what `body` throws.
public func withTimeout<Result: Sendable>(
    _ timeout: Duration = .seconds(30),
    waitingFor description: @autoclosure @escaping @Sendable () -> String,
    _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    let race = Race<Result>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation)
            let work = Task {
                do {
                    race.finish(.success(try await body()))
                } catch {
                    race.finish(.failure(error))
                }
            }
            let timer = Task {
                try await Task.sleep(for: timeout)
                race.finish(.failure(TimedOut(timeout: timeout, waitingFor: description())))
            }
            race.onFinish {
                timer.cancel()
                work.cancel()
            }
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// Re-checks `condition` until it holds, for effects that have no event to await (a thread
/// closing a descriptor, a task reaching a wait). Each check is a poll, not a bet on timing: the
/// deadline only bounds how long a broken implementation can keep the test waiting.
public func eventually(
    timeout: Duration = .seconds(30),
    _ description: String,
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while try await !condition() {
        guard clock.now < deadline else { throw TimedOut(timeout: timeout, waitingFor: description) }
        try await Task.sleep(for: .milliseconds(5))
    }
}

extension AsyncSequence where Self: Sendable, Element: Sendable {
    /// Collects elements until `count` of them satisfy `predicate`; returns those. The default
    /// deadline is generous on purpose: it only decides how soon a broken test reports, and a
    /// loaded two-core CI machine can take tens of seconds to restart a daemon.
    ///
    /// - Throws: ``TimedOut`` when they have not all come within `timeout`, ``EndedEarly`` when
    ///   the sequence ends first; either names the place of the call and how many came.
    public func collect(
        _ count: Int,
        within timeout: Duration = .seconds(60),
        where predicate: @escaping @Sendable (Element) -> Bool = { _ in true },
        fileID: String = #fileID,
        line: Int = #line
    ) async throws -> [Element] {
        guard count > 0 else { return [] }
        let found = Collected<Element>()
        let place = "\(fileID):\(line)"
        return try await withTimeout(
            timeout,
            waitingFor: "\(count) matching element(s) at \(place) (\(found.count) came)"
        ) {
            for try await element in self where predicate(element) {
                if found.append(element) >= count { return found.elements }
            }
            throw EndedEarly("the sequence awaited at \(place) ended after \(found.count) of \(count) matching element(s)")
        }
    }
}

/// What a ``AsyncSequence/collect(_:within:where:fileID:line:)`` has found so far.
private final class Collected<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])

    func append(_ element: Element) -> Int {
        items.withLock {
            $0.append(element)
            return $0.count
        }
    }

    var count: Int { items.withLock { $0.count } }
    var elements: [Element] { items.withLock { $0 } }
}

/// The first of several results resumes the continuation (at once, or as soon as there is one);
/// later ones are dropped.
private final class Race<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value, any Error>?
        var result: Swift.Result<Value, any Error>?
        var cleanup: (@Sendable () -> Void)?
        var finished = false
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<Value, any Error>) {
        let decided = state.withLock { state -> Swift.Result<Value, any Error>? in
            guard let result = state.result else {
                state.continuation = continuation
                return nil
            }
            state.result = nil
            return result
        }
        if let decided { continuation.resume(with: decided) }
    }

    /// Runs `cleanup` once the race is decided (at once if it already is).
    func onFinish(_ cleanup: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            if state.finished { return true }
            state.cleanup = cleanup
            return false
        }
        if runNow { cleanup() }
    }

    /// Returns true when this result won the race.
    @discardableResult
    func finish(_ result: Swift.Result<Value, any Error>) -> Bool {
        typealias Winner = (continuation: CheckedContinuation<Value, any Error>?, cleanup: (@Sendable () -> Void)?)
        let winner: Winner? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            let taken = (state.continuation, state.cleanup)
            if taken.0 == nil { state.result = result }
            state.continuation = nil
            state.cleanup = nil
            return taken
        }
        guard let winner else { return false }
        winner.continuation?.resume(with: result)
        winner.cleanup?()
        return true
    }
}
