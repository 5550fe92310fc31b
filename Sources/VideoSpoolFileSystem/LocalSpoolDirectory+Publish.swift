#if canImport(Glibc)
import Glibc
#endif

extension LocalSpoolDirectory {
    /// Publishes a request file as a writer outside the daemon should: `.<name>.tmp` in `incoming/`,
    /// `fsync`, rename to `name` without replacing an existing file, then `fsync` of the directory.
    ///
    /// - Throws: ``SpoolFileSystemError`` (with `EEXIST` when `incoming/<name>` is already there).
    public func publish(_ bytes: [UInt8], as name: String) throws {
        let directory = incoming
        let temporary = directory + "/." + name + ".tmp"
        let target = directory + "/" + name
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard descriptor >= 0 else { throw SpoolFileSystemError("create", path: temporary) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let error = SpoolFileSystemError("write", path: temporary)
                close(descriptor)
                unlink(temporary)
                throw error
            }
            written += result
        }
        if fsync(descriptor) != 0 {
            let error = SpoolFileSystemError("fsync", path: temporary)
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        guard Self.renameWithoutReplacing(temporary, target) == 0 else {
            let error = SpoolFileSystemError("rename", path: target)
            unlink(temporary)
            throw error
        }
        try Self.syncDirectory(directory)
    }

    /// Whether `incoming/<name>` exists (a request with that name is waiting for the daemon).
    public func incomingContains(_ name: String) -> Bool {
        var info = stat()
        return lstat(incoming + "/" + name, &info) == 0
    }

    /// `renameat2(…, RENAME_NOREPLACE)`: two submitters choosing the same `job_id` must not
    /// overwrite each other. Glibc's Swift module does not export it, so it is looked up by name;
    /// without it (very old libc), a check-then-rename is the fallback.
    private static func renameWithoutReplacing(_ source: String, _ target: String) -> Int32 {
        typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        if let symbol = dlsym(nil, "renameat2") {
            let renameat2 = unsafeBitCast(symbol, to: RenameAt2.self)
            let noReplace: UInt32 = 1  // RENAME_NOREPLACE, <linux/fs.h>
            let result = renameat2(AT_FDCWD, source, AT_FDCWD, target, noReplace)
            if result == 0 || (errno != ENOSYS && errno != EINVAL) { return result }
        }
        var info = stat()
        if lstat(target, &info) == 0 {
            errno = EEXIST
            return -1
        }
        return rename(source, target)
    }
}
