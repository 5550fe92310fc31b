import Foundation
import Synchronization

/// A history that anyone can follow: every element so far, then every new one, to each
/// subscriber. The simulator's API events and received webhooks, and the tests' log recordings,
/// are all awaited this way, so that a test waits for an effect instead of sleeping.
public final class ReplayingBroadcast<Element: Sendable>: Sendable {
    private struct State {
        var history: [Element] = []
        var subscribers: [UUID: AsyncStream<Element>.Continuation] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Everything appended so far.
    public var history: [Element] { state.withLock { $0.history } }

    /// Every element so far, then every new one, until the consumer stops.
    public func subscribe() -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self)
        let id = UUID()
        state.withLock { state in
            for element in state.history { continuation.yield(element) }
            state.subscribers[id] = continuation
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public func append(_ element: Element) {
        let subscribers = state.withLock { state in
            state.history.append(element)
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield(element) }
    }
}
