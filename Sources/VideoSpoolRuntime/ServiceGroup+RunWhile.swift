public import ServiceLifecycle

extension ServiceGroup {
    /// Runs the group while `body` runs, then shuts it down gracefully and waits for it: the way
    /// tests, the demo and embedders run services for a bounded time. If the group stops first
    /// (a service failed), `body` is cancelled and the group's error is thrown.
    public func run<Result: Sendable>(while body: @escaping @Sendable () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Result?.self) { tasks in
            tasks.addTask {
                try await self.run()
                return nil
            }
            tasks.addTask { try await body() }
            // A throwing child ends the task group here and cancels the other one.
            guard let first = try await tasks.next(), let result = first else {
                tasks.cancelAll()
                throw ServiceGroupStoppedEarly()
            }
            await triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }
}

/// The service group returned while the body given to `run(while:)` was still running.
public struct ServiceGroupStoppedEarly: Error, CustomStringConvertible {
    public var description: String { "the service group stopped before the work it was running for" }
}
