import Foundation
public import Logging
import VideoSpoolCore
import VideoSpoolSupport

/// A log kept in memory for tests that assert on what was logged, and when.
public final class LogRecording: Sendable {
    public struct Entry: Sendable, CustomStringConvertible {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]

        public subscript(key: String) -> String? { metadata[key] }
        public var description: String { "\(level) \(message) \(metadata)" }
    }

    private let log = ReplayingBroadcast<Entry>()

    public init() {}

    public var entries: [Entry] { log.history }

    /// A logger at `level` feeding this recording.
    public func logger(level: Logger.Level = .debug) -> Logger {
        var logger = Logger(label: "test", factory: { [self] _ in Handler(sink: self) })
        logger.logLevel = level
        return logger
    }

    /// Every entry so far, then every new one.
    public func subscribe() -> AsyncStream<Entry> {
        log.subscribe()
    }

    /// Returns once `condition` holds for the entries logged so far; fails after `timeout` naming
    /// what it waited for (a deadline for a readable failure, not a wait for the effect).
    public func wait(
        for what: String,
        timeout: Duration = .seconds(60),
        _ condition: @escaping @Sendable ([Entry]) -> Bool
    ) async throws {
        try await withTimeout(timeout, waitingFor: what) { [self] in
            var seen: [Entry] = []
            if condition(seen) { return }
            for await entry in subscribe() {
                seen.append(entry)
                if condition(seen) { return }
            }
        }
    }

    fileprivate func append(_ entry: Entry) {
        log.append(entry)
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
