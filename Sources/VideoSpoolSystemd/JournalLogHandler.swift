package import CSystemd
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
        withVectors(fields) { vectors, count in _ = sd_journal_sendv(vectors, count) }
    }

    /// Lays `fields` out as one `iovec` each, in memory that stays valid for the whole of `body`
    /// (and only for it): every field's bytes in one buffer, the vectors in another, both freed
    /// afterwards. (Pointers from `withUnsafeBytes` are valid only inside its closure.)
    package static func withVectors<Result>(
        _ fields: [String],
        _ body: (UnsafeMutablePointer<iovec>, Int32) throws -> Result
    ) rethrows -> Result {
        let total = fields.reduce(0) { $0 + $1.utf8.count }
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 1)
        defer { bytes.deallocate() }
        let vectors = UnsafeMutableBufferPointer<iovec>.allocate(capacity: max(fields.count, 1))
        defer { vectors.deallocate() }
        var offset = 0
        for (index, field) in fields.enumerated() {
            let count = field.utf8.count
            UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<(offset + count)]).copyBytes(from: field.utf8)
            vectors.initializeElement(at: index, to: iovec(iov_base: bytes.baseAddress! + offset, iov_len: count))
            offset += count
        }
        return try body(vectors.baseAddress!, Int32(fields.count))
    }
}
