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
        try Self.writeSynced(bytes, to: temporary, flags: O_EXCL)
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
