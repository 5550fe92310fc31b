/// The spool tree callers write into: `incoming/`, `rejected/`, `done/`, `failed/`.
///
/// Names of entries in `incoming/` are in the escaped form of ``SpoolFileName``: an entry whose name
/// is not UTF-8 is listed, read, moved and reported under a text that decodes to its exact bytes.
public protocol SpoolDirectory: Sendable {
    /// Creates the directories if needed and checks they are usable.
    func prepare() throws

    /// Starts watching `incoming/` (before the first scan, so nothing published in between is missed).
    func watch() throws -> AsyncStream<SpoolChange>

    /// Names in `incoming/` that look like requests: `*.json`, not starting with `.`.
    func incomingNames() async throws -> [String]

    /// Reads one request file safely: no symlinks, regular files only, never more than the limit.
    func read(_ name: String, maximumBytes: Int) async -> SpoolRead

    /// Deletes an accepted file. Deleting a file that is already gone is not an error.
    func remove(_ name: String) async throws

    /// Moves a file to `rejected/` with `<name>.error.json` beside it; returns the name used there.
    /// Names that would exceed the file system's limit are shortened with
    /// ``SpoolFileName/fitting(_:suffix:limit:)``.
    @discardableResult
    func reject(_ name: String, errorDocument: [UInt8]) async throws -> String

    /// Makes earlier removals, moves and writes durable (directory `fsync`), before the store
    /// records them.
    func flush() async throws

    /// Atomically writes `done/<job_id>.json` or `failed/<job_id>.json`.
    func writeOutcome(_ document: [UInt8], jobID: JobID, completed: Bool) async throws

    /// Deletes `done/<job_id>.json` and `failed/<job_id>.json` (retention, or a job sent round
    /// again). A file already gone is not an error.
    func removeOutcome(jobID: JobID) async throws
}

/// An error a ``SpoolDirectory`` throws that says whether trying again later can help.
public protocol SpoolDirectoryError: Error {
    /// `true` when waiting cannot make the operation succeed (the file system refuses the name,
    /// an invalid argument, a move across file systems): the caller reports it once and stops
    /// trying, instead of retrying forever.
    var isPermanent: Bool { get }
}

/// A hint that `incoming/` changed. Hints can be lost, so the runtime also rescans periodically.
public enum SpoolChange: Sendable, Hashable {
    /// A file appeared or was closed after writing.
    case file(String)
    /// Events were dropped (queue overflow) or the watch was reset: scan everything.
    case rescan
}

public enum SpoolRead: Sendable {
    case file(SpoolFile)
    /// The name no longer exists (another scan took it, or the writer removed it).
    case vanished
    /// The entry cannot be a request (symlink, directory, FIFO, too large, unreadable).
    case unusable(ValidationIssue)
}

/// One request file's bytes and the facts needed to judge it.
public struct SpoolFile: Sendable {
    public let name: String
    public let bytes: [UInt8]
    public let modifiedAt: Timestamp
    /// More than 1 means another name links to the same file.
    public let linkCount: Int
    /// Which file this is, the same for every daemon reading the spool directory (inode, size and
    /// modification time; see ``SourceFile/identity``); `nil` when the adapter cannot tell.
    public let identity: String?

    public init(name: String, bytes: [UInt8], modifiedAt: Timestamp, linkCount: Int, identity: String? = nil) {
        self.name = name
        self.bytes = bytes
        self.modifiedAt = modifiedAt
        self.linkCount = linkCount
        self.identity = identity
    }
}
