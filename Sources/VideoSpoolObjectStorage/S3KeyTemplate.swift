public import VideoSpoolCore

/// `results.s3.key_prefix`: text with `{job_id}` and `{date}` (UTC, `YYYY-MM-DD`) placeholders.
/// The object key is the rendered prefix followed by the stored file's name (`<job_id>.mp4`).
///
/// Rules, checked when the template is parsed and again on the rendered key: no leading `/`, no
/// empty, `.` or `..` path segment (some proxies and servers normalize them, and then the path
/// signed is not the path served), no control characters, at most 1024 bytes (S3's limit).
public struct S3KeyTemplate: Sendable, Equatable, CustomStringConvertible {
    private enum Piece: Sendable, Equatable {
        case text(String)
        case jobID
        case date
    }

    private let pieces: [Piece]
    public let template: String

    public static let placeholders = ["{job_id}", "{date}"]
    /// S3's limit for a key, in UTF-8 bytes.
    public static let maximumKeyBytes = 1024

    /// - Throws: ``ObjectStorageError`` (`invalidArgument`) naming the problem.
    public init(_ template: String) throws(ObjectStorageError) {
        var pieces: [Piece] = []
        var text = ""
        var rest = Substring(template)
        while let character = rest.first {
            if character == "{" {
                guard let close = rest.firstIndex(of: "}") else {
                    throw Self.invalid("'{' without a closing '}' in '\(template)'")
                }
                let name = rest[rest.index(after: rest.startIndex)..<close]
                switch name {
                case "job_id": pieces.append(contentsOf: [.text(text), .jobID])
                case "date": pieces.append(contentsOf: [.text(text), .date])
                default:
                    throw Self.invalid("unknown placeholder '{\(name)}' in '\(template)'; use {job_id} or {date}")
                }
                text = ""
                rest = rest[rest.index(after: close)...]
                continue
            }
            if character == "}" { throw Self.invalid("'}' without an opening '{' in '\(template)'") }
            text.append(character)
            rest.removeFirst()
        }
        pieces.append(.text(text))
        self.pieces = pieces.filter { $0 != .text("") }
        self.template = template
        // A sample rendering catches what is wrong in the literal parts.
        _ = try Self.check(render(jobID: "J", date: Timestamp(millisecondsSinceEpoch: 0)), whole: false)
    }

    public var description: String { template }

    /// The object key for a stored file: the rendered prefix, then `fileName`.
    ///
    /// - Throws: ``ObjectStorageError`` (`invalidArgument`) when the key breaks a rule above.
    public func key(jobID: String, fileName: String, date: Timestamp) throws(ObjectStorageError) -> String {
        try Self.check(render(jobID: jobID, date: date) + fileName, whole: true)
    }

    private func render(jobID: String, date: Timestamp) -> String {
        let day = AmzDate(date).isoDate
        return pieces.map { piece in
            switch piece {
            case .text(let text): text
            case .jobID: jobID
            case .date: day
            }
        }.joined()
    }

    private static func check(_ key: String, whole: Bool) throws(ObjectStorageError) -> String {
        if key.hasPrefix("/") { throw invalid("the key '\(key)' starts with '/'") }
        if key.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { throw invalid("the key '\(key)' contains a control character") }
        if key.utf8.count > maximumKeyBytes { throw invalid("the key is longer than \(maximumKeyBytes) bytes") }
        var segments = key.split(separator: "/", omittingEmptySubsequences: false)
        // A prefix may end with '/': its last, empty segment is where the file name goes.
        if !whole, segments.count > 1, segments.last == "" { segments.removeLast() }
        if key.isEmpty { return key }
        for segment in segments where segment.isEmpty || segment == "." || segment == ".." {
            throw invalid("the key '\(key)' has an empty, '.' or '..' path segment")
        }
        return key
    }

    private static func invalid(_ message: String) -> ObjectStorageError {
        ObjectStorageError(code: .invalidArgument, message)
    }
}
