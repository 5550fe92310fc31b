import AsyncHTTPClient
import NIOCore
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
        state.withLock { state in
            let room = maximumBodyBytes - state.recorded.body.count
            if buffer.readableBytes > room { state.recorded.truncated = true }
            if room > 0 { state.recorded.body.append(contentsOf: buffer.readableBytesView.prefix(room)) }
        }
        return task.eventLoop.makeSucceededVoidFuture()
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
        let text = String(describing: error)
        if text.contains("refused") || text.contains("111") { return ("connection refused", false) }
        return ("\(text)", false)
    }
}
