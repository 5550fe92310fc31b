import Foundation
package import Logging
import NIOCore
import NIOPosix
import Synchronization
import ServiceLifecycle
package import VideoSpoolRuntime

/// Serves the control socket (`state.directory/control.sock`, mode 0660): the way `videospool
/// cancel`, `retry`, `redeliver` and `prune` reach the running daemon, so its queues and timers learn
/// of each change. Who may connect is decided by file-system permissions alone.
package final class ControlService: Service, Sendable {
    static let fileName = "control.sock"
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    private let path: String
    private let control: JobControl
    private let logger: Logger
    private let accepted = AcceptedConnections()
    private let progressInterval: Duration

    /// `progressInterval`: see ``defaultProgressInterval``.
    package init(path: String, control: JobControl, logger: Logger, progressInterval: Duration = defaultProgressInterval) {
        self.path = path
        self.control = control
        self.logger = logger
        self.progressInterval = progressInterval
    }

    package func run() async throws {
        let accepted = self.accepted
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { channel in
                channel.eventLoop.makeCompletedFuture { try accepted.wrap(channel) }
            }
        chmod(path, 0o660)
        logger.debug("Control socket ready", metadata: ["path": "\(path)"])
        defer { unlink(path) }
        do {
            try await withGracefulShutdownHandler {
                try await server.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await connection in inbound {
                            accepted.claim(connection)
                            group.addTask { await self.serve(connection) }
                        }
                    }
                }
            } onGracefulShutdown: {
                server.channel.close(promise: nil)
            }
        } catch {
            await accepted.closeUnclaimed()
            throw error
        }
        await accepted.closeUnclaimed()
    }

    /// How long a connection may take to send its request line. `videospool` sends it at once, so
    /// a connection that stays silent (a stray `nc`, a hung client) is closed soon, and a stop
    /// never waits for one.
    static let requestDeadline = Duration.seconds(5)

    /// Reads one request line, carries it out, answers with one line. On graceful shutdown a
    /// connection still waiting for its request is closed at once, and an operation in progress is
    /// interrupted (a prune stops after the batch in hand and says how far it got).
    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                let received = try await cancelWhenGracefulShutdown {
                    try await Self.readRequest(from: inbound, within: Self.requestDeadline)
                }
                guard let received else {
                    logger.debug("Control connection sent no request in time; closed")
                    return
                }
                let response: ControlResponse
                if let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(received.readableBytesView)) {
                    logger.info("Operator request", metadata: ["command": "\(request.command.rawValue)", "job.id": "\(request.jobID ?? "-")"])
                    let control = self.control
                    response = await cancelWhenGracefulShutdown {
                        guard request.progress == true else { return await request.perform(with: control) }
                        return await Self.perform(request, with: control, every: self.progressInterval, reportingTo: outbound)
                    }
                } else {
                    response = ControlResponse(ok: false, message: "not a control request")
                }
                var bytes = try JSONEncoder().encode(response)
                bytes.append(UInt8(ascii: "\n"))
                try await outbound.write(ByteBuffer(bytes: bytes))
            }
        } catch {
            logger.debug("Control connection failed", metadata: ["error": "\(error)"])
        }
    }

    /// How often a request that asked for progress hears from the daemon while it works, at the
    /// least: the client's silence timeout is far longer, so it never gives up on a daemon at work.
    package static let defaultProgressInterval = Duration.seconds(2)

    /// Carries `request` out, sending ``ControlUpdate`` lines meanwhile: each batch of ids at once
    /// (for `prune --ids`), and how far it got every `interval`.
    private static func perform(
        _ request: ControlRequest,
        with control: JobControl,
        every interval: Duration,
        reportingTo outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) async -> ControlResponse {
        let done = DoneCount()
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil {
                    try? await outbound.write(line(ControlUpdate(done: done.value.withLock { $0 })))
                }
            }
            let response = await request.perform(with: control) { update in
                done.value.withLock { $0 = update.done }
                if update.ids != nil { try? await outbound.write(line(update)) }
            }
            group.cancelAll()
            return response
        }
    }

    private static func line(_ update: ControlUpdate) -> ByteBuffer {
        var bytes = (try? JSONEncoder().encode(ControlUpdate.Line(update: update))) ?? Data()
        bytes.append(UInt8(ascii: "\n"))
        return ByteBuffer(bytes: bytes)
    }

    /// The bytes up to the first newline (or 64 KiB), or `nil` when none came within `deadline`.
    static func readRequest(
        from inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        within deadline: Duration
    ) async throws -> ByteBuffer? {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                var received = ByteBuffer()
                for try await var chunk in inbound {
                    received.writeBuffer(&chunk)
                    if received.readableBytesView.contains(UInt8(ascii: "\n")) || received.readableBytes > 65536 { break }
                }
                return received
            }
            group.addTask {
                try await Task.sleep(for: deadline)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

/// How far an operation has got, for the periodic progress line.
private final class DoneCount: Sendable {
    let value = Mutex(0)
}

/// Connections from the moment they are accepted until they are served. A connection accepted just
/// as the server closes can be dropped by NIO before it reaches the accept loop, and a
/// `NIOAsyncChannel` dropped without `executeThenClose` is a crash (a stop with a client connecting
/// at that moment would end in SIGILL). So each is held here until the loop claims it; whatever is
/// left when the server has stopped is closed properly, and nothing is accepted after that.
private final class AcceptedConnections: Sendable {
    private struct State {
        var waiting: [ObjectIdentifier: ControlService.Connection] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    /// Runs on the connection's event loop (the child channel initializer).
    func wrap(_ channel: any Channel) throws -> ControlService.Connection {
        try state.withLock { state in
            guard !state.closed else {
                channel.close(promise: nil)
                throw ChannelError.ioOnClosedChannel
            }
            let connection = try ControlService.Connection(wrappingChannelSynchronously: channel)
            state.waiting[ObjectIdentifier(channel)] = connection
            return connection
        }
    }

    func claim(_ connection: ControlService.Connection) {
        _ = state.withLock { $0.waiting.removeValue(forKey: ObjectIdentifier(connection.channel)) }
    }

    func closeUnclaimed() async {
        let unclaimed = state.withLock { state in
            state.closed = true
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for connection in unclaimed {
            try? await connection.executeThenClose { _, _ in }
        }
    }
}
