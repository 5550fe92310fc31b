public import Hummingbird
import Logging

/// A loopback HTTP server of a test's own (Hummingbird), for answers the simulator cannot give:
/// stand-in receivers, object stores, video hosts.
public enum LoopbackServer {
    /// Serves `router` on 127.0.0.1 (a free port) until `body` returns; `body` gets the port.
    public static func serve<Result: Sendable>(
        _ router: Router<BasicRequestContext>,
        _ body: @Sendable (Int) async throws -> Result
    ) async throws -> Result {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: Logger(label: "loopback-server", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { continuation.finish() }
                try await application.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else {
                try await tasks.waitForAll()
                throw LoopbackServerError()
            }
            defer { tasks.cancelAll() }
            return try await body(port)
        }
    }

    /// A loopback port nobody listens on: one a server was bound to and has released.
    public static func closedPort() async throws -> Int {
        try await serve(Router()) { port in port }
    }
}

public struct LoopbackServerError: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the loopback server stopped before it had a port" }
}
