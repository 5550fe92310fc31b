public import ServiceLifecycle

extension ServiceGroup {
    /// Runs the group while `body` runs, then shuts it down gracefully and waits for it: the way
    /// tests, the demo and embedders run services for a bounded time.
    public func run<Result: Sendable>(while body: () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await self.run() }
            do {
                let result = try await body()
                await triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }
}
