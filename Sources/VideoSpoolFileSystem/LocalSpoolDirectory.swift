#if canImport(Glibc)
import Glibc
#endif
import NIOPosix
public import VideoSpoolCore

/// The spool tree on a local file system.
///
/// Request files are opened with `O_NOFOLLOW | O_NONBLOCK` and checked with `fstat` (Postfix's
/// `safe_open`): symlinks, FIFOs, directories and oversized files are refused without being read.
/// Writes are atomic (temporary name, `fsync`, `rename`), and ``flush()`` makes renames and
/// removals durable before the store records them. Names are bytes at the system calls and
/// ``SpoolFileName``'s escaped form everywhere else, so no name is lost or mistaken for another.
public struct LocalSpoolDirectory: SpoolDirectory {
    public let root: String
    public var incoming: String { root + "/incoming" }
    public var rejectedDirectory: String { root + "/rejected" }
    public var doneDirectory: String { root + "/done" }
    public var failedDirectory: String { root + "/failed" }
    /// Shared by copies of this value: a flush through any copy syncs what any copy changed.
    private let changes: DirectoryChanges

    public init(root: String) {
        let root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        self.root = root
        changes = DirectoryChanges(directories: ["incoming", "rejected", "done", "failed"].map { root + "/" + $0 })
    }

    public func prepare() throws {
        try makeDirectory(root, mode: 0o755)
        try makeDirectory(incoming, mode: 0o770)
        for directory in [rejectedDirectory, doneDirectory, failedDirectory] {
            try makeDirectory(directory, mode: 0o750)
        }
        for directory in [incoming, rejectedDirectory, doneDirectory, failedDirectory] {
            guard access(directory, W_OK | X_OK) == 0 else {
                throw SpoolFileSystemError("cannot write to", path: directory)
            }
        }
    }

    private func makeDirectory(_ path: String, mode: mode_t) throws {
        if mkdir(path, mode) == 0 { return }
        let error = errno
        var info = stat()
        // `stat`, not `lstat`: an operator may point the spool (or a part of it) elsewhere by symlink.
        guard error == EEXIST, stat(path, &info) == 0 else { throw SpoolFileSystemError("mkdir", path: path, errno: error) }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw SpoolFileSystemError("expected a directory at", path: path, errno: ENOTDIR)
        }
    }

    public func watch() throws -> AsyncStream<SpoolChange> {
        try InotifyWatcher.watch(directory: incoming)
    }

    public func incomingNames() async throws -> [String] {
        let directory = incoming
        return try await Self.offload {
            guard let handle = opendir(directory) else { throw SpoolFileSystemError("opendir", path: directory) }
            defer { closedir(handle) }
            var names: [String] = []
            while let entry = readdir(handle) {
                // The bytes as they are: `String(cString:)` would replace invalid UTF-8 with
                // U+FFFD, and that name could never be opened.
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    SpoolFileName.escape(raw.prefix { $0 != 0 })
                }
                if !name.hasPrefix("."), name.hasSuffix(".json") { names.append(name) }
            }
            return names.sorted()
        }
    }

    public func read(_ name: String, maximumBytes: Int) async -> SpoolRead {
        let path = SpoolPath(directory: incoming, escapedName: name)
        return (try? await Self.offload { Self.readFile(path: path, name: name, maximumBytes: maximumBytes) })
            ?? .vanished
    }

    static func readFile(path: SpoolPath, name: String, maximumBytes: Int) -> SpoolRead {
        let descriptor = open(path.cString, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        if descriptor < 0 {
            switch errno {
            case ENOENT: return .vanished
            case ELOOP:
                return .unusable(
                    ValidationIssue(
                        field: nil,
                        code: .symlink,
                        message: "the file is a symbolic link; symlinks are never followed, drop the file itself"
                    )
                )
            case ENXIO:
                return .unusable(
                    ValidationIssue(field: nil, code: .notRegularFile, message: "the entry is a socket or device")
                )
            default:
                return .unusable(
                    ValidationIssue(
                        field: nil,
                        code: .unreadable,
                        message: "the file cannot be opened: \(String(cString: strerror(errno)))"
                    )
                )
            }
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            return .unusable(ValidationIssue(field: nil, code: .unreadable, message: "fstat failed"))
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            let kind =
                switch type {
                case S_IFDIR: "a directory"
                case S_IFIFO: "a FIFO"
                case S_IFSOCK: "a socket"
                case S_IFCHR, S_IFBLK: "a device"
                default: "not a regular file"
                }
            return .unusable(
                ValidationIssue(field: nil, code: .notRegularFile, message: "the entry is \(kind), not a regular file")
            )
        }
        if Int(info.st_size) > maximumBytes {
            return .unusable(tooLarge(size: Int(info.st_size), maximumBytes: maximumBytes))
        }
        // Read at most one byte past the limit: a file that grows while being read is still caught.
        var bytes = [UInt8](repeating: 0, count: min(Int(info.st_size), maximumBytes) + 1)
        var count = 0
        while count < bytes.count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(descriptor, buffer.baseAddress! + count, buffer.count - count)
            }
            if result < 0 {
                if errno == EINTR { continue }
                return .unusable(
                    ValidationIssue(field: nil, code: .unreadable, message: "read failed: \(String(cString: strerror(errno)))")
                )
            }
            if result == 0 { break }
            count += result
            if count == bytes.count, count <= maximumBytes { bytes.append(contentsOf: repeatElement(0, count: 4096)) }
        }
        if count > maximumBytes { return .unusable(tooLarge(size: count, maximumBytes: maximumBytes)) }
        bytes.removeSubrange(count...)
        let modified = Timestamp(
            millisecondsSinceEpoch: Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
        )
        // The inode number is the file server's on NFS, so every daemon sharing the directory sees
        // the same identity; size and nanosecond mtime tell a new file that reused an inode.
        let identity = "\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        return .file(
            SpoolFile(name: name, bytes: bytes, modifiedAt: modified, linkCount: Int(info.st_nlink), identity: identity)
        )
    }

    private static func tooLarge(size: Int, maximumBytes: Int) -> ValidationIssue {
        ValidationIssue(
            field: nil,
            code: .tooLarge,
            message: "the file is \(size) bytes; spool.max_request_bytes allows \(maximumBytes)"
        )
    }

    public func remove(_ name: String) async throws {
        let path = SpoolPath(directory: incoming, escapedName: name)
        let (changes, incoming) = (changes, incoming)
        try await Self.offload {
            defer { changes.changed(incoming) }
            if unlink(path.cString) != 0, errno != ENOENT { throw SpoolFileSystemError("unlink", path: path) }
        }
    }

    /// Moves `incoming/<name>` to `rejected/`, under its own name or, when an earlier rejection
    /// has that, `<stem>.<n>.json`; writes the report first, as `<target>.error.json`. Every name
    /// made here is cut to the file system's limit by ``SpoolFileName/fitting(_:suffix:limit:)``.
    @discardableResult
    public func reject(_ name: String, errorDocument: [UInt8]) async throws -> String {
        let original = SpoolFileName.unescape(name)
        let source = SpoolPath(directory: incoming, name: original)
        let directory = rejectedDirectory
        let (changes, incoming) = (changes, incoming)
        return try await Self.offload {
            var probe = stat()
            // Nothing to move (another run already did): write no report without its file.
            guard lstat(source.cString, &probe) == 0 else { return name }
            let limit = Self.nameLimit(of: directory)
            func taken(_ candidate: [UInt8]) -> Bool {
                let report = Self.reportName(for: candidate, limit: limit)
                return lstat(SpoolPath(directory: directory, name: candidate).cString, &probe) == 0
                    || lstat(SpoolPath(directory: directory, name: report).cString, &probe) == 0
            }
            var target = SpoolFileName.fitting(original, limit: limit)
            if taken(target) {
                // Keep earlier rejections: a second file with the same name gets a unique one.
                let json = Array(".json".utf8)
                let stem = original.count > json.count && original.suffix(json.count).elementsEqual(json)
                    ? Array(original.dropLast(json.count)) : original
                var suffix = 1
                repeat {
                    target = SpoolFileName.fitting(stem, suffix: Array(".\(suffix).json".utf8), limit: limit)
                    suffix += 1
                } while taken(target)
            }
            defer {
                changes.changed(directory)
                changes.changed(incoming)
            }
            try Self.writeAtomically(
                errorDocument,
                directory: directory,
                name: Self.reportName(for: target, limit: limit),
                limit: limit
            )
            let destination = SpoolPath(directory: directory, name: target)
            if rename(source.cString, destination.cString) != 0, errno != ENOENT {
                throw SpoolFileSystemError("rename into rejected/", path: source)
            }
            return SpoolFileName.escape(target)
        }
    }

    /// The report beside `rejected/<target>`: `<target>.error.json`, shortened if that is too long.
    static func reportName(for target: [UInt8], limit: Int) -> [UInt8] {
        SpoolFileName.fitting(target, suffix: Array(".error.json".utf8), limit: limit)
    }

    /// The longest name `directory`'s file system takes (`NAME_MAX`, 255 on Linux's).
    static func nameLimit(of directory: String) -> Int {
        let limit = pathconf(directory, Int32(_PC_NAME_MAX))
        return limit > 0 ? min(limit, SpoolFileName.maximumLength) : SpoolFileName.maximumLength
    }

    public func writeOutcome(_ document: [UInt8], jobID: JobID, completed: Bool) async throws {
        let directory = completed ? doneDirectory : failedDirectory
        let changes = changes
        try await Self.offload {
            defer { changes.changed(directory) }
            // Daemons sharing a spool directory may write one outcome at the same moment: each
            // through a temporary of its own, so neither renames the other's away.
            try Self.writeAtomically(
                document,
                directory: directory,
                name: Array((jobID.rawValue + ".json").utf8),
                temporarySuffix: ".\(getpid()).tmp"
            )
        }
    }

    public func removeOutcome(jobID: JobID) async throws {
        let directories = [doneDirectory, failedDirectory]
        let paths = directories.map { $0 + "/" + jobID.rawValue + ".json" }
        let changes = changes
        try await Self.offload {
            defer { for directory in directories { changes.changed(directory) } }
            for path in paths where unlink(path) != 0 && errno != ENOENT {
                throw SpoolFileSystemError("unlink", path: path)
            }
        }
    }

    /// Makes renames and removals in the spool durable: an `fsync` of each directory changed since
    /// it was last synced (``DirectoryChanges``).
    public func flush() async throws {
        let behind = changes.behind()
        guard !behind.isEmpty else { return }
        let changes = changes
        try await Self.offload {
            for (directory, count) in behind {
                try Self.syncDirectory(directory)
                changes.synced(directory, upTo: count)
            }
        }
    }

    /// Writes `directory/name` through a hidden temporary name (`.<name><temporarySuffix>`,
    /// shortened to fit `limit`), syncs it, then renames it into place.
    static func writeAtomically(
        _ bytes: [UInt8],
        directory: String,
        name: [UInt8],
        temporarySuffix: String = ".tmp",
        limit: Int = SpoolFileName.maximumLength
    ) throws {
        let path = SpoolPath(directory: directory, name: name)
        let dot = [UInt8(ascii: ".")]
        let temporary = SpoolPath(
            directory: directory,
            name: dot + SpoolFileName.fitting(name, suffix: Array(temporarySuffix.utf8), limit: limit - dot.count)
        )
        try writeSynced(bytes, to: temporary, flags: O_TRUNC)
        guard rename(temporary.cString, path.cString) == 0 else {
            let error = SpoolFileSystemError("rename", path: temporary)
            unlink(temporary.cString)
            throw error
        }
    }

    static func syncDirectory(_ path: String) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SpoolFileSystemError("open", path: path) }
        defer { close(descriptor) }
        if fsync(descriptor) != 0 { throw SpoolFileSystemError("fsync", path: path) }
    }

    /// Runs blocking file-system calls on NIO's thread pool, off the cooperative threads.
    static func offload<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}

extension LocalSpoolDirectory {
    /// Creates `path` (with `flags`, e.g. `O_EXCL` or `O_TRUNC`), writes all of `bytes` and syncs the
    /// data; on any failure the file is removed, so no half-written temporary is left behind.
    static func writeSynced(_ bytes: [UInt8], to path: String, flags: Int32) throws {
        try writeSynced(bytes, to: SpoolPath(path), flags: flags)
    }

    static func writeSynced(_ bytes: [UInt8], to path: SpoolPath, flags: Int32) throws {
        let descriptor = open(path.cString, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags, 0o640)
        guard descriptor >= 0 else { throw SpoolFileSystemError("create", path: path) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let error = SpoolFileSystemError("write", path: path)
                close(descriptor)
                unlink(path.cString)
                throw error
            }
            written += result
        }
        if fdatasync(descriptor) != 0 {
            let error = SpoolFileSystemError("fdatasync", path: path)
            close(descriptor)
            unlink(path.cString)
            throw error
        }
        close(descriptor)
    }
}
