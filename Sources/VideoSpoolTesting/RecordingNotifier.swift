import Synchronization
public import VideoSpoolCore

/// A `ServiceManagerNotifier` that keeps every datagram, for tests of readiness and watchdog policy.
public final class RecordingNotifier: ServiceManagerNotifier, Sendable {
    private let recorded = Mutex<[[ServiceManagerMessage]]>([])
    private let continuation: AsyncStream<[ServiceManagerMessage]>.Continuation
    /// Every datagram, as it is sent.
    public let datagrams: AsyncStream<[ServiceManagerMessage]>

    public init() {
        (datagrams, continuation) = AsyncStream.makeStream(of: [ServiceManagerMessage].self)
    }

    public var sent: [[ServiceManagerMessage]] { recorded.withLock { $0 } }

    public func notify(_ messages: [ServiceManagerMessage]) {
        recorded.withLock { $0.append(messages) }
        continuation.yield(messages)
    }
}
