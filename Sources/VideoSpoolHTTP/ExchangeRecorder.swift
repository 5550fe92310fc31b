import AsyncHTTPClient
import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif
import NIOHTTP1
import Synchronization

/// An AsyncHTTPClient delegate that records whether the request was fully sent (the line between
/// "safe to retry" and "outcome unknown" for a POST) and collects at most `maximumBodyBytes` of
/// the response body.
final class ExchangeRecorder: HTTPClientResponseDelegate, Sendable {
    struct Recorded: Sendable {
        var status: HTTPResponseStatus = .ok
        var headers: HTTPHeaders = [:]
        var body: [UInt8] = []
        var truncated = false
    }

    private struct State {
        var sent = false
        var recorded = Recorded()
    }

    private let maximumBodyBytes: Int
    private let state = Mutex(State())

    init(maximumBodyBytes: Int) {
        self.maximumBodyBytes = maximumBodyBytes
    }

    /// Whether the whole request (head and body) was written to the connection.
    var requestWasSent: Bool { state.withLock { $0.sent } }

    func didSendRequest(task: HTTPClient.Task<Recorded>) {
        state.withLock { $0.sent = true }
    }

    func didReceiveHead(task: HTTPClient.Task<Recorded>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        state.withLock { state in
            state.recorded.status = head.status
            state.recorded.headers = head.headers
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Recorded>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let full = state.withLock { state in
            let room = maximumBodyBytes - state.recorded.body.count
            if buffer.readableBytes > room { state.recorded.truncated = true }
            if room > 0 { state.recorded.body.append(contentsOf: buffer.readableBytesView.prefix(room)) }
            return state.recorded.truncated
        }
        // Past the cap, stop reading (the connection is closed): a body that trickles or never ends
        // must not turn a status that already arrived into a timeout.
        return full ? task.eventLoop.makeFailedFuture(BodyCapReached()) : task.eventLoop.makeSucceededVoidFuture()
    }

    /// Ends a transfer whose body went past the cap.
    struct BodyCapReached: Error {}

    /// Runs `request`; a transfer stopped at the body cap yields the status, headers and capped body.
    func execute(_ request: HTTPClient.Request, on client: HTTPClient, deadline: NIODeadline, logger: Logger) async throws
        -> Recorded
    {
        do {
            let task = client.execute(request: request, delegate: self, deadline: deadline, logger: logger)
            // Cancelling the caller (a stop past its graceful limit) cancels the request; a bare
            // `get()` would keep waiting for its deadline, past the stop's cancellation limit.
            return try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
        } catch is BodyCapReached {
            return state.withLock { $0.recorded }
        }
    }

    func didFinishRequest(task: HTTPClient.Task<Recorded>) throws -> Recorded {
        state.withLock { $0.recorded }
    }
}

/// Short, stable descriptions of transport errors for logs and job messages.
enum TransportErrorDescription {
    static func describe(_ error: any Error) -> (reason: String, timedOut: Bool) {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout: return ("timed out", true)
            case .connectTimeout: return ("connect timed out", true)
            case .remoteConnectionClosed: return ("the server closed the connection", false)
            case .getConnectionFromPoolTimeout: return ("no connection available in time", true)
            default: return ("HTTP client error: \(error)", false)
            }
        }
        if let error = error as? ChannelError {
            return ("connection error: \(error)", false)
        }
        if let error = error as? IOError {
            return (error.errnoCode == ECONNREFUSED ? "connection refused" : "I/O error: \(error)", false)
        }
        if let error = error as? NIOConnectionError {
            let refused = error.connectionErrors.contains { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
            return (refused ? "connection refused" : "cannot connect: \(error)", false)
        }
        return ("\(error)", false)
    }
}
