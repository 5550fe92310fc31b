public import Logging
import Synchronization
public import VideoSpoolCore

/// The level and the secret scrubber every log handler reads, changeable on reload.
public final class LogSettings: Sendable {
    private struct State {
        var level: Logger.Level
        var scrubber: SecretScrubber
    }

    private let state: Mutex<State>

    public init(level: Logger.Level, secrets: [String] = []) {
        self.state = Mutex(State(level: level, scrubber: SecretScrubber(secrets: secrets)))
    }

    public var level: Logger.Level {
        get { state.withLock { $0.level } }
        set { state.withLock { $0.level = newValue } }
    }

    /// Removes the API key and the webhook secret from anything logged (defence in depth: the code
    /// never logs them, but an upstream error message might echo one).
    public var scrubber: SecretScrubber { state.withLock { $0.scrubber } }

    public func setSecrets(_ secrets: [String]) {
        state.withLock { $0.scrubber = SecretScrubber(secrets: secrets) }
    }
}

/// Human-readable lines on stderr (outside the journal), with the shared level and scrubber.
public struct StderrLogHandler: LogHandler {
    private var stream: StreamLogHandler
    private let settings: LogSettings
    /// Kept here, not in `stream`: StreamLogHandler re-renders its metadata on every change, and
    /// the pipeline sets a few keys on a logger for every job.
    public var metadata: Logger.Metadata = [:]

    public init(label: String, settings: LogSettings) {
        self.stream = StreamLogHandler.standardError(label: label)
        self.stream.logLevel = .trace
        self.settings = settings
    }

    public var logLevel: Logger.Level {
        get { settings.level }
        set { settings.level = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let scrubber = settings.scrubber
        var event = event
        event.message = Logger.Message(stringLiteral: scrubber.scrub(event.message.description))
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        event.metadata = merged.isEmpty ? nil : merged.mapValues { .string(scrubber.scrub(JournalEntry.flatten($0))) }
        if let error = event.error {
            event.metadata = (event.metadata ?? [:]).merging(["error": .string(scrubber.scrub("\(error)"))]) { $1 }
            event.error = nil
        }
        stream.log(event: event)
    }
}
