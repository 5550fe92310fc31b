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
/// removals durable before the store records them.
public struct LocalSpoolDirectory: SpoolDirectory {
    public let root: String
    public var incoming: String { root + "/incoming" }
    public var rejectedDirectory: String { root + "/rejected" }
    public var doneDirectory: String { root + "/done" }
    public var failedDirectory: String { root + "/failed" }

    public init(root: String) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
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
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if !name.hasPrefix("."), name.hasSuffix(".json") { names.append(name) }
            }
            return names.sorted()
        }
    }

    public func read(_ name: String, maximumBytes: Int) async -> SpoolRead {
        let path = incoming + "/" + name
        return (try? await Self.offload { Self.readFile(path: path, name: name, maximumBytes: maximumBytes) })
            ?? .vanished
    }

    static func readFile(path: String, name: String, maximumBytes: Int) -> SpoolRead {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
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
        return .file(SpoolFile(name: name, bytes: bytes, modifiedAt: modified, linkCount: Int(info.st_nlink)))
    }

    private static func tooLarge(size: Int, maximumBytes: Int) -> ValidationIssue {
        ValidationIssue(
            field: nil,
            code: .tooLarge,
            message: "the file is \(size) bytes; spool.max_request_bytes allows \(maximumBytes)"
        )
    }

    public func remove(_ name: String) async throws {
        let path = incoming + "/" + name
        try await Self.offload {
            if unlink(path) != 0, errno != ENOENT { throw SpoolFileSystemError("unlink", path: path) }
        }
    }

    @discardableResult
    public func reject(_ name: String, errorDocument: [UInt8]) async throws -> String {
        let source = incoming + "/" + name
        let directory = rejectedDirectory
        return try await Self.offload {
            var probe = stat()
            // Nothing to move (another run already did): write no report without its file.
            guard lstat(source, &probe) == 0 else { return name }
            func taken(_ candidate: String) -> Bool {
                lstat(directory + "/" + candidate, &probe) == 0
                    || lstat(directory + "/" + candidate + ".error.json", &probe) == 0
            }
            var target = name
            if taken(target) {
                // Keep earlier rejections: a second file with the same name gets a unique one.
                let stem = name.hasSuffix(".json") ? String(name.dropLast(5)) : name
                var suffix = 1
                repeat {
                    target = "\(stem).\(suffix).json"
                    suffix += 1
                } while taken(target)
            }
            try Self.writeAtomically(errorDocument, to: directory + "/" + target + ".error.json", directory: directory)
            if rename(source, directory + "/" + target) != 0, errno != ENOENT {
                throw SpoolFileSystemError("rename into rejected/", path: source)
            }
            return target
        }
    }

    public func writeOutcome(_ document: [UInt8], jobID: JobID, completed: Bool) async throws {
        let directory = completed ? doneDirectory : failedDirectory
        try await Self.offload {
            try Self.writeAtomically(document, to: directory + "/" + jobID.rawValue + ".json", directory: directory)
        }
    }

    public func removeOutcome(jobID: JobID) async throws {
        let paths = [doneDirectory, failedDirectory].map { $0 + "/" + jobID.rawValue + ".json" }
        try await Self.offload {
            for path in paths where unlink(path) != 0 && errno != ENOENT {
                throw SpoolFileSystemError("unlink", path: path)
            }
        }
    }

    /// Makes renames and removals in the spool durable (`fsync` of each directory).
    public func flush() async throws {
        let directories = [incoming, rejectedDirectory, doneDirectory, failedDirectory]
        try await Self.offload {
            for directory in directories { try Self.syncDirectory(directory) }
        }
    }

    /// Writes to a hidden temporary name, syncs it, then renames it into place.
    static func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let temporary = directory + "/." + path[slash...] + ".tmp"
        try writeSynced(bytes, to: temporary, flags: O_TRUNC)
        guard rename(temporary, path) == 0 else {
            let error = SpoolFileSystemError("rename", path: temporary)
            unlink(temporary)
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
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags, 0o640)
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
                unlink(path)
                throw error
            }
            written += result
        }
        if fdatasync(descriptor) != 0 {
            let error = SpoolFileSystemError("fdatasync", path: path)
            close(descriptor)
            unlink(path)
            throw error
        }
        close(descriptor)
    }
}
