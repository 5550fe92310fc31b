import Synchronization

/// How far start-up has got: the intake reports each batch of its first scan and the scan's end;
/// the health reporter turns that into `EXTEND_TIMEOUT_USEC` and `READY=1`.
public final class StartupProgress: Sendable {
    public enum Event: Sendable, Hashable {
        /// Another batch of the first scan is done (start-up is long, not stuck).
        case progress
        /// The first scan is done: the daemon is ready.
        case ready
    }

    private let continuation: AsyncStream<Event>.Continuation
    public let events: AsyncStream<Event>
    private let finished = Mutex(false)

    public init() {
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(16))
    }

    public func progress() {
        continuation.yield(.progress)
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
