import Foundation
public import Logging
import Synchronization

/// A log kept in memory for tests that assert on what was logged, and when.
public final class LogRecording: Sendable {
    public struct Entry: Sendable, CustomStringConvertible {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]

        public subscript(key: String) -> String? { metadata[key] }
        public var description: String { "\(level) \(message) \(metadata)" }
    }

    private struct State {
        var entries: [Entry] = []
        var subscribers: [UUID: AsyncStream<Entry>.Continuation] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public var entries: [Entry] { state.withLock { $0.entries } }

    /// A logger at `level` feeding this recording.
    public func logger(level: Logger.Level = .debug) -> Logger {
        var logger = Logger(label: "test", factory: { [self] _ in Handler(sink: self) })
        logger.logLevel = level
        return logger
    }

    /// Every entry so far, then every new one.
    public func subscribe() -> AsyncStream<Entry> {
        let (stream, continuation) = AsyncStream.makeStream(of: Entry.self)
        let id = UUID()
        state.withLock { state in
            for entry in state.entries { continuation.yield(entry) }
            state.subscribers[id] = continuation
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    fileprivate func append(_ entry: Entry) {
        let subscribers = state.withLock { state in
            state.entries.append(entry)
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield(entry) }
    }

    private struct Handler: LogHandler {
        let sink: LogRecording
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { $1 } }
            sink.append(Entry(level: event.level, message: event.message.description, metadata: merged.mapValues { "\($0)" }))
        }
    }
}
