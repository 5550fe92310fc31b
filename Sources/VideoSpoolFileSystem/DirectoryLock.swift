#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// An advisory lock (`flock(2)`) on a lock file: exclusive for the one daemon that owns a
/// directory, shared for operator commands that write to it while no daemon runs.
///
/// The kernel releases the lock when its holder dies, however it dies (SIGKILL, OOM, power loss
/// ends everything anyway), so there is no stale-lock logic. The exclusive holder writes its PID
/// into the file only so that a refusal can name it; the lock, not the file's contents, decides.
/// The file is never removed or replaced: a new inode would be a new, separate lock.
public final class DirectoryLock: Sendable {
    public enum Mode: Sendable {
        case exclusive, shared
    }

    /// The result of trying to take a lock without waiting.
    public enum Attempt: Sendable {
        case acquired(DirectoryLock)
        /// Another process holds it exclusively (a daemon); its PID, when the file names a live one.
        case heldExclusively(pid: Int32?)
        /// Other processes hold it shared (operator commands working on the store).
        case heldShared
    }

    public let path: String
    public let mode: Mode
    private let descriptor: Mutex<Int32?>

    private init(path: String, mode: Mode, descriptor: Int32) {
        self.path = path
        self.mode = mode
        self.descriptor = Mutex(descriptor)
    }

    deinit { release() }

    /// Gives the lock back (closing the descriptor releases it). Also done on deinit.
    public func release() {
        descriptor.withLock { descriptor in
            if let open = descriptor { close(open) }
            descriptor = nil
        }
    }

    /// Tries to take the lock on `path` (created if missing) without waiting.
    ///
    /// - Parameter pidWait: how long to wait, when an exclusive holder is found, for it to have
    ///   written its PID (it writes it just after taking the lock).
    /// - Throws: ``SpoolFileSystemError`` when the file cannot be opened or locked at all.
    public static func attempt(_ path: String, mode: Mode, pidWait: Duration = .seconds(1)) throws -> Attempt {
        let descriptor = try openLockFile(path)
        let operation = mode == .exclusive ? LOCK_EX : LOCK_SH
        if flock(descriptor, operation | LOCK_NB) == 0 {
            let lock = DirectoryLock(path: path, mode: mode, descriptor: descriptor)
            if mode == .exclusive { recordOwner(descriptor) }
            return .acquired(lock)
        }
        let error = errno
        guard error == EAGAIN else {  // EWOULDBLOCK on Linux
            close(descriptor)
            throw SpoolFileSystemError("flock", path: path, errno: error)
        }
        defer { close(descriptor) }
        // Held. A shared probe tells who holds it: it fails only against an exclusive holder.
        if mode == .exclusive, flock(descriptor, LOCK_SH | LOCK_NB) == 0 { return .heldShared }
        return .heldExclusively(pid: owner(descriptor, waiting: pidWait))
    }

    /// The PID the exclusive holder wrote, if it names a live process. A holder that has just
    /// taken the lock may not have written it yet, and the file may still name an earlier holder
    /// that died, so the file is read again for up to `waiting`.
    private static func owner(_ descriptor: Int32, waiting: Duration) -> Int32? {
        let clock = ContinuousClock()
        let deadline = clock.now + waiting
        while true {
            if let pid = recordedPID(descriptor), pid > 0, kill(pid, 0) == 0 || errno == EPERM { return pid }
            guard clock.now < deadline else { return nil }
            usleep(10_000)
        }
    }

    private static func recordedPID(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        return Int32(text.split(whereSeparator: \.isWhitespace).first ?? "")
    }

    /// The PID of the new exclusive holder, for the next refusal to name. Best effort: a file
    /// that cannot be written still locks.
    private static func recordOwner(_ descriptor: Int32) {
        let bytes = Array("\(getpid())\n".utf8)
        guard ftruncate(descriptor, 0) == 0 else { return }
        _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// Opens (creating) the lock file for writing, or for reading where this user may not write
    /// it (flock works on either). Created by root in a directory root does not own, it is given
    /// to the directory's owner, so that the daemon's user can still write its PID into it.
    private static func openLockFile(_ path: String) throws -> Int32 {
        var descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        if descriptor < 0, errno == EACCES || errno == EROFS {
            descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        }
        guard descriptor >= 0 else { throw SpoolFileSystemError("open lock file", path: path) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw SpoolFileSystemError("expected a regular file at", path: path, errno: EINVAL)
        }
        if geteuid() == 0 {
            var directory = stat()
            let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
            if stat(parent.isEmpty ? "/" : parent, &directory) == 0, info.st_uid != directory.st_uid {
                _ = fchown(descriptor, directory.st_uid, directory.st_gid)
            }
        }
        return descriptor
    }
}
