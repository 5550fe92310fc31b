import Synchronization

/// Start-up's end: the intake reports when its first scan has listed the spool (watched already),
/// and the health reporter sends `READY=1`.
public final class StartupProgress: Sendable {
    public enum Event: Sendable, Hashable {
        /// The first scan has listed the spool: the daemon is ready.
        case ready
    }

    private let continuation: AsyncStream<Event>.Continuation
    public let events: AsyncStream<Event>
    private let finished = Mutex(false)

    public init() {
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(16))
    }

    public func ready() {
        let first = finished.withLock { finished -> Bool in
            defer { finished = true }
            return !finished
        }
        if first {
            continuation.yield(.ready)
            continuation.finish()
        }
    }

    public var isReady: Bool { finished.withLock { $0 } }
}
