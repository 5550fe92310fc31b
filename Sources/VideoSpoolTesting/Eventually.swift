/// A wait in a test that ran out of time.
public struct TestTimedOut: Error, CustomStringConvertible {
    public let timeout: Duration
    public let waitingFor: String

    public var description: String { "timed out after \(timeout) waiting for \(waitingFor)" }
}

/// Re-checks `condition` until it holds, for effects with no event to await (a slot given back by
/// a task that finished). Each check is a poll, not a bet on timing: the deadline only bounds how
/// long a broken implementation keeps the test waiting.
public func eventually(
    timeout: Duration = .seconds(30),
    _ description: String,
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while try await !condition() {
        guard clock.now < deadline else { throw TestTimedOut(timeout: timeout, waitingFor: description) }
        try await Task.sleep(for: .milliseconds(2))
    }
}
