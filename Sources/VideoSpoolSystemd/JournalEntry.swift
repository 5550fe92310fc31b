public import Logging

/// The fields of one native journal entry for a swift-log event (pure, so it can be tested
/// without journald).
public enum JournalEntry {
    /// `trace`/`debug` → 7, `info` → 6, `notice` → 5, `warning` → 4, `error` → 3, `critical` → 2.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// A swift-log metadata key as a journal field name: A–Z, 0–9 and `_`, not starting with a
    /// digit or `_`, at most 64 characters (journald silently drops invalid names).
    /// `job.id` → `JOB_ID`, `http.status` → `HTTP_STATUS`.
    public static func fieldName(_ key: String) -> String {
        var name = String(
            key.uppercased().unicodeScalars.map { scalar -> Character in
                let value = scalar.value
                let allowed = (65...90).contains(value) || (48...57).contains(value) || value == 95
                return allowed ? Character(scalar) : "_"
            }
        )
        while name.hasPrefix("_") { name.removeFirst() }
        if name.isEmpty { name = "FIELD" }
        if let first = name.first, first.isNumber { name = "F_" + name }
        return String(name.prefix(64))
    }

    /// The `KEY=value` fields, in the order sent. Fields the journal defines are not overridden by
    /// metadata of the same name.
    public static func fields(
        identifier: String,
        level: Logger.Level,
        message: String,
        metadata: Logger.Metadata,
        file: String,
        function: String,
        line: UInt
    ) -> [String] {
        var fields = [
            "MESSAGE=" + message,
            "PRIORITY=\(priority(level))",
            "SYSLOG_IDENTIFIER=" + identifier,
            "CODE_FILE=" + file,
            "CODE_LINE=\(line)",
            "CODE_FUNC=" + function,
        ]
        let reserved: Set<String> = ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "MESSAGE_ID"]
        if case .string(let event)? = metadata["event"], let id = MessageID.byEvent[event] {
            fields.append("MESSAGE_ID=" + id)
        }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            let name = fieldName(key)
            if reserved.contains(name) { continue }
            fields.append(name + "=" + flatten(value))
        }
        return fields
    }

    static func flatten(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): "[" + values.map(flatten).joined(separator: ", ") + "]"
        case .dictionary(let values):
            "[" + values.sorted { $0.key < $1.key }.map { "\($0.key): \(flatten($0.value))" }.joined(separator: ", ") + "]"
        }
    }
}
