/// Runs `operation`, giving up after `limit`: for calls that must not hold a loop longer than its
/// period (a lease renewal that outlived the period is worthless anyway).
struct DeadlineExceeded: Error, CustomStringConvertible {
    var limit: Duration

    var description: String { "no answer within \(limit)" }
}

func withDeadline<Result: Sendable>(
    _ limit: Duration,
    _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else { throw DeadlineExceeded(limit: limit) }
        return result
    }
}
