import CSystemd
#if canImport(Glibc)
import Glibc
#endif
public import Logging
import VideoSpoolCore

/// A swift-log handler that writes native journal entries with `sd_journal_sendv`: MESSAGE,
/// PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE/LINE/FUNC, a MESSAGE_ID for lifecycle events, and every
/// metadata key as an uppercase field, so `journalctl -u videospool JOB_ID=…` finds a job's story.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    private let identifier: String
    private let settings: LogSettings

    public init(identifier: String = "videospool", settings: LogSettings) {
        self.identifier = identifier
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
        var merged = metadata
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error { merged["error"] = "\(error)" }
        let scrubber = settings.scrubber
        let fields = JournalEntry.fields(
            identifier: identifier,
            level: event.level,
            message: scrubber.scrub(event.message.description),
            metadata: merged.mapValues { .string(scrubber.scrub(JournalEntry.flatten($0))) },
            file: event.file,
            function: event.function,
            line: event.line
        )
        Self.send(fields)
    }

    static func send(_ fields: [String]) {
        var buffers = fields.map { Array($0.utf8) }
        var vectors: [iovec] = []
        vectors.reserveCapacity(buffers.count)
        for index in buffers.indices {
            buffers[index].withUnsafeMutableBytes { raw in
                vectors.append(iovec(iov_base: raw.baseAddress, iov_len: raw.count))
            }
        }
        // The pointers stay valid: `buffers` is alive and not mutated until after the call.
        withExtendedLifetime(buffers) {
            _ = sd_journal_sendv(&vectors, Int32(vectors.count))
        }
    }
}
