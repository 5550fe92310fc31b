#if canImport(Glibc)
import Glibc
#endif

/// Whether stderr is connected to the journal: `$JOURNAL_STREAM` (`<dev>:<inode>`) must match
/// stderr's own device and inode; the variable alone is not enough (stderr may be redirected).
public enum JournalStream {
    public static func stderrIsJournal(environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}
