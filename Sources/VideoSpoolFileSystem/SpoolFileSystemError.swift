#if canImport(Glibc)
import Glibc
#endif
public import VideoSpoolCore

/// A failed file-system call, with the path (names escaped as ``SpoolFileName`` does) and the
/// system's reason.
public struct SpoolFileSystemError: SpoolDirectoryError, Sendable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Int32

    init(_ operation: String, path: String, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    init(_ operation: String, path: SpoolPath, errno: Int32 = Glibc.errno) {
        self.init(operation, path: path.description, errno: errno)
    }

    /// Errors that waiting cannot clear: the file system refuses the name (too long, not valid in
    /// its encoding), the call is invalid, or the move crosses file systems or meets something
    /// that is not a directory. A full disk, missing permissions or an I/O error may pass.
    public var isPermanent: Bool {
        [ENAMETOOLONG, EINVAL, EILSEQ, EXDEV, ENOTDIR, EISDIR, ELOOP].contains(errno)
    }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno)))"
    }
}
